// The moderators' view of the lobby: a toolbar button with the number of people waiting, an
// announcement when someone knocks, and a panel to let each one in or refuse them.

import { t } from "./i18n.js";
import { $, actionButton, element } from "./dom.js";
import { cleanNote, MAX_NOTE, noteProblem } from "./note.js";

const KINDS = new Set(["guest", "local", "matrix", "partner"]);

export function kindLabel(kind) {
  return t(`meeting.lobby.kind.${KINDS.has(kind) ? kind : "guest"}`);
}

export class LobbyPanel {
  /**
   * @param {object} options
   * @param {import("./call.js").Call} options.call
   * @param {(text: string, kind?: string) => void} options.notify
   */
  constructor({ call, notify }) {
    this.call = call;
    this.notify = notify;
    this.list = $("lobby-list");
    this.rows = new Map(); // entry id -> <li>
    call.on("lobby", ({ arrived }) => {
      for (const entry of arrived) this.notify(t("meeting.lobby.knock", { name: entry.name }));
      this.render();
    });
    this.list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) this.decide(button.closest("li").dataset.entry, button.dataset.action);
    });
    $("lobby-admit-all").addEventListener("click", () => {
      for (const entry of this.call.lobby) this.decide(entry.id, "admit");
    });
  }

  decide(entryId, action) {
    const row = this.rows.get(entryId);
    if (row && row.dataset.pending) return;
    let reason = "";
    if (action === "deny" && row) {
      const input = row.querySelector(".lobby-reason input");
      reason = cleanNote(input.value);
      const problem = noteProblem(reason);
      this.showReasonError(row, problem);
      if (problem) {
        input.focus();
        return;
      }
    }
    const sent = action === "admit" ? this.call.admit(entryId) : this.call.deny(entryId, reason);
    if (!sent) {
      this.notify(t("meeting.moderation.not_sent"), "error");
      return;
    }
    // Until the hub's next `lobby` removes the entry, a second click would only get an error.
    if (row) row.dataset.pending = "true";
    for (const button of row ? row.querySelectorAll("button") : []) button.setAttribute("aria-disabled", "true");
  }

  showReasonError(row, key) {
    const input = row.querySelector(".lobby-reason input");
    const error = row.querySelector(".lobby-reason .error-text");
    error.textContent = key ? t(key) : "";
    error.hidden = !key;
    if (key) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  render() {
    const entries = this.call.lobby;
    const wanted = new Set(entries.map((entry) => entry.id));
    let focusIndex = -1; // where the focus was, if its row goes away
    [...this.rows.keys()].forEach((id, index) => {
      if (wanted.has(id)) return;
      const row = this.rows.get(id);
      if (row.contains(document.activeElement)) focusIndex = index;
      row.remove();
      this.rows.delete(id);
    });
    const items = entries.map((entry) => this.row(entry));
    const current = [...this.list.children];
    if (items.length !== current.length || items.some((item, index) => item !== current[index])) {
      this.list.replaceChildren(...items);
    }
    if (focusIndex >= 0) {
      // The next person's "let in" button, so a moderator can go down the queue.
      const next = items[Math.min(focusIndex, items.length - 1)];
      if (next) next.querySelector("button").focus();
      else $("lobby-heading").focus();
    }
    const count = entries.length;
    $("lobby-count").textContent = String(count);
    $("toggle-lobby").classList.toggle("tool-attention", count > 0);
    $("lobby-heading").textContent = t("meeting.lobby.heading", { count });
    $("lobby-empty").hidden = count > 0;
    $("lobby-admit-all").hidden = count < 2;
  }

  /** What they wrote when knocking or since: text as the hub cleaned it, never markup. */
  showMessage(item, entry) {
    let shown = item.querySelector(".lobby-message");
    if (!entry.message) {
      if (shown) shown.remove();
      return;
    }
    const text = t("meeting.lobby.message", { message: entry.message });
    if (!shown) {
      shown = element("p", "lobby-message");
      item.querySelector(".lobby-who").after(shown);
    }
    if (shown.textContent !== text) shown.textContent = text;
  }

  /** The reason a moderator may give with "Refuse" (the refused person reads it). */
  reasonField(entryId) {
    const field = element("div", "lobby-reason");
    const id = `lobby-reason-${entryId}`;
    const label = element("label", "", t("meeting.lobby.reason_label"));
    label.htmlFor = id;
    const error = element("p", "error-text");
    error.id = `${id}-error`;
    error.hidden = true;
    const input = element("input");
    input.type = "text";
    input.id = id;
    input.maxLength = MAX_NOTE;
    input.setAttribute("aria-describedby", error.id);
    input.addEventListener("input", () => this.showReasonError(input.closest("li"), null));
    field.append(label, input, error);
    return field;
  }

  row(entry) {
    let item = this.rows.get(entry.id);
    if (item) {
      this.showMessage(item, entry); // rewritten while waiting (the row, its reason, stay)
      return item;
    }
    item = element("li");
    item.dataset.entry = entry.id;
    const label = t("meeting.lobby.entry", { name: entry.name, kind: kindLabel(entry.kind) });
    const who = element("p", "lobby-who");
    who.append(element("span", "participant-name", entry.name), element("span", "role-label", kindLabel(entry.kind)));
    item.append(who);
    this.showMessage(item, entry);
    item.append(this.reasonField(entry.id));
    const buttons = element("div", "lobby-buttons");
    buttons.setAttribute("role", "group");
    buttons.setAttribute("aria-label", label);
    buttons.append(
      actionButton("button button-small button-primary", t("meeting.lobby.admit"), "admit"),
      actionButton("button button-small", t("meeting.lobby.deny"), "deny"),
    );
    item.append(buttons);
    this.rows.set(entry.id, item);
    return item;
  }
}
