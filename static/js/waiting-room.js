// The screen of a person waiting in the lobby: what is happening, in a polite live region,
// and a way out. Nothing of the meeting itself (roster, chat, media) is shown here.

import { t } from "./i18n.js";
import { $ } from "./dom.js";
import { cleanNote, noteProblem } from "./note.js";


export class WaitingRoom {
  /**
   * @param {object} options
   * @param {import("./call.js").Call} options.call
   * @param {() => void} options.onLeave  the person chose to leave the lobby
   */
  constructor({ call, onLeave }) {
    this.call = call;
    this.root = $("waiting");
    this.status = $("waiting-status");
    this.retryButton = $("waiting-retry");
    call.on("state", () => this.render());
    call.on("admitted", () => this.render());
    $("waiting-leave").addEventListener("click", onLeave);
    this.retryButton.addEventListener("click", () => this.call.retry());
    this.note = $("waiting-message");
    this.noteError = $("waiting-message-error");
    this.noteStatus = $("waiting-note-status");
    $("waiting-note").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendNote();
    });
    this.note.addEventListener("input", () => this.showNoteError(null));
  }

  /** The knock's message, written here or rewritten (the pre-join's rule: one line, at most
   *  200 characters, no control characters or markup); the moderators see it at once. */
  sendNote() {
    const message = cleanNote(this.note.value);
    const problem = noteProblem(message);
    this.showNoteError(problem);
    if (problem) {
      this.note.focus();
      return;
    }
    if (!this.call.amendKnock(message)) return;
    this.note.value = message;
    this.noteStatus.textContent = t(message ? "meeting.waiting.note_sent" : "meeting.waiting.note_cleared");
  }

  showNoteError(key) {
    this.noteError.hidden = !key;
    this.noteError.textContent = key ? t(key) : "";
    if (key) {
      this.note.setAttribute("aria-invalid", "true");
      this.note.setAttribute("aria-describedby", "waiting-message-hint waiting-message-error");
      this.noteStatus.textContent = "";
    } else {
      this.note.removeAttribute("aria-invalid");
      this.note.setAttribute("aria-describedby", "waiting-message-hint");
    }
  }

  get visible() {
    return !this.root.hidden;
  }

  show() {
    this.root.hidden = false;
    this.pageTitle = document.title;
    this.render();
    // Which meeting, and under which name the organisers see the knock.
    $("waiting-who").textContent = t("meeting.waiting.who", { title: this.call.settings.title, name: this.call.name });
    this.note.value = this.call.knockMessage || "";
    this.noteStatus.textContent = "";
    document.title = `${t("meeting.waiting.heading")} — ${this.call.settings.title}`;
    $("waiting-title").focus();
  }

  hide() {
    if (this.visible && this.pageTitle) document.title = this.pageTitle;
    this.root.hidden = true;
  }

  render() {
    if (!this.visible) return;
    const { state, lobbyState } = this.call;
    let key = "meeting.waiting.status";
    if (state === "reconnecting") key = "meeting.waiting.reconnecting";
    else if (state === "disconnected") key = "meeting.waiting.disconnected";
    else if (lobbyState === "admitted") key = "meeting.waiting.admitted";
    const text = t(key);
    // Only a real change is written: rewriting the same text would be announced again.
    if (this.status.textContent !== text) this.status.textContent = text;
    this.retryButton.hidden = state !== "disconnected";
    this.root.dataset.state = state;
  }
}
