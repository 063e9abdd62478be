// Recording: the indicator everyone sees while the meeting is recorded (consent), a notice
// when a moderator starts or stops it, and the moderators' start/stop control. Texts come
// from t(); names are always set as text.

import { t } from "./i18n.js";
import { $ } from "./dom.js";

export class RecordingView {
  /**
   * @param {object} options
   * @param {import("./call.js").Call} options.call
   * @param {(text: string, kind?: string) => void} options.notify
   */
  constructor({ call, notify }) {
    this.call = call;
    this.notify = notify;
    this.on = false;
    this.allowed = false; // this hub offers recording: moderators get the control
    $("toggle-recording").addEventListener("click", () => {
      if (!call.send({ type: "recording", on: !this.on })) notify(t("meeting.moderation.not_sent"), "error");
    });
    call.on("recording", (change) => this.changed(change));
    call.on("role", () => this.render());
  }

  changed({ on, by = null, allowed, welcome = false, failed = false }) {
    if (allowed !== undefined) this.allowed = allowed;
    if (failed) {
      // Moderators only: the recording that stopped never reached the store.
      this.notify(t("meeting.notice.recording_failed"), "error");
      return;
    }
    const before = this.on;
    this.on = on;
    if (on && (welcome || !before)) {
      // Everyone present, and everyone who joins while it runs, is told.
      this.notify(by ? t("meeting.notice.recording_on", { name: by }) : t("meeting.recording.on"));
    } else if (!on && before && !welcome) {
      this.notify(t("meeting.notice.recording_off", { name: by || "?" }));
      offerKept(this.call);
    }
    this.render();
  }

  render() {
    $("recording-indicator").hidden = !this.on;
    const control = $("toggle-recording");
    control.hidden = !(this.call.isModerator && this.allowed);
    const label = t(this.on ? "meeting.recording.stop" : "meeting.recording.start");
    control.dataset.state = this.on ? "on" : "off";
    control.dataset.tip = label;
    control.querySelector(".tool-label").textContent = label;
  }
}

/** Once a recording or the subtitles stop, a moderator gets a link to what the meeting kept
 *  (in the room's bar, and on the page after leaving); absent in a Matrix widget. */
export function offerKept(call) {
  if (!call.isModerator || !$("kept-link")) return;
  $("kept-link").hidden = false;
  $("after-kept").hidden = false;
}
