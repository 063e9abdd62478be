// Live subtitles: the indicator everyone sees while speech is transcribed (consent), the
// moderators' start/stop control, each person's own show/hide, and one line per speaker in a
// polite live region. Texts come from t(); what people said is always set as text.

import { t } from "./i18n.js";
import { $, element } from "./dom.js";
import { offerKept } from "./recording.js";

const LINE_MS = 8000; // a speaker's line goes once they have said nothing new for this long
const MAX_LINES = 3;

export class SubtitlesView {
  /**
   * @param {object} options
   * @param {import("./call.js").Call} options.call
   * @param {(text: string, kind?: string) => void} options.notify
   */
  constructor({ call, notify }) {
    this.call = call;
    this.notify = notify;
    this.shown = true; // this person's choice
    this.lines = new Map(); // participant id -> { item, timer }
    $("toggle-subtitles").addEventListener("click", () => {
      if (!call.setSubtitles(call.subtitles === "off")) notify(t("meeting.moderation.not_sent"), "error");
    });
    $("show-subtitles").addEventListener("click", () => {
      this.shown = !this.shown;
      this.render();
    });
    call.on("subtitles", (change) => this.changed(change));
    call.on("subtitle", (message) => this.said(message));
    call.on("role", () => this.render());
    call.on("participants", () => this.render());
  }

  changed({ state, before, by }) {
    if (state === "off") this.clear();
    if (before === "off" && state !== "off") {
      this.notify(by ? t("meeting.notice.subtitles_on", { name: by }) : t("meeting.subtitles.on"));
    } else if (state === "off" && before !== "off") {
      this.notify(t("meeting.notice.subtitles_off", { name: by || "?" }));
      offerKept(this.call);
    } else if (state === "unavailable") {
      this.notify(t("meeting.notice.subtitles_unavailable"), "error");
    } else if (state === "on" && before === "unavailable") {
      this.notify(t("meeting.notice.subtitles_back"));
    }
    this.render();
  }

  said({ participant_id: id, name, text }) {
    if (this.call.subtitles === "off") return;
    let line = this.lines.get(id);
    if (!line) {
      const item = element("li", "subtitle-line");
      item.dataset.participant = id;
      item.append(element("span", "subtitle-name"), element("span", "subtitle-text"));
      line = { item, timer: null };
      this.lines.set(id, line);
    }
    // "Name : " then the words, so a screen reader says who speaks.
    const [nameNode, textNode] = line.item.children;
    nameNode.textContent = t("meeting.subtitles.line", { name, text: "" });
    textNode.textContent = text;
    $("subtitle-lines").append(line.item); // the latest speaker last
    clearTimeout(line.timer);
    line.timer = setTimeout(() => this.drop(id), LINE_MS);
    this.lines.delete(id);
    this.lines.set(id, line); // Map order: oldest speaker first
    while (this.lines.size > MAX_LINES) this.drop(this.lines.keys().next().value);
  }

  drop(id) {
    const line = this.lines.get(id);
    if (!line) return;
    clearTimeout(line.timer);
    line.item.remove();
    this.lines.delete(id);
  }

  clear() {
    for (const id of [...this.lines.keys()]) this.drop(id);
  }

  render() {
    const state = this.call.subtitles;
    const on = state !== "off";
    const indicator = $("subtitles-indicator");
    indicator.hidden = !on;
    indicator.dataset.state = state;
    indicator.textContent = t(state === "unavailable" ? "meeting.subtitles.unavailable" : "meeting.subtitles.on");
    const control = $("toggle-subtitles");
    control.hidden = !(this.call.isModerator && this.call.subtitlesAllowed);
    const label = t(on ? "meeting.subtitles.stop" : "meeting.subtitles.start");
    control.dataset.state = on ? "on" : "off";
    control.dataset.tip = label;
    control.querySelector(".tool-label").textContent = label;
    const show = $("show-subtitles");
    show.hidden = !on;
    show.setAttribute("aria-pressed", String(this.shown));
    const showLabel = t(this.shown ? "meeting.subtitles.hide" : "meeting.subtitles.show");
    show.dataset.tip = showLabel;
    show.querySelector(".tool-label").textContent = showLabel;
    $("subtitles").hidden = !(on && this.shown);
  }
}
