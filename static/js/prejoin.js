// The pre-join screen: camera preview, device choice, "start muted" / "camera off", the name,
// and the states a person must understand (asking, denied, joining, failed).

import { t } from "./i18n.js";
import { $ } from "./dom.js";
import { fillDeviceSelect } from "./devices.js";
import { LevelMeter } from "./level-meter.js";
import { cleanNote, noteProblem } from "./note.js";


const NAME_KEY = "visio-name";

function rememberedName() {
  try {
    return window.localStorage.getItem(NAME_KEY) || "";
  } catch {
    return "";
  }
}

function rememberName(name) {
  try {
    window.localStorage.setItem(NAME_KEY, name);
  } catch {
    // storage refused: the name is typed again next time
  }
}

export class PrejoinView {
  /**
   * @param {object} options
   * @param {import("./devices.js").LocalMedia} options.local
   * @param {(choice: {name: string, message: string, audio: boolean, video: boolean}) => Promise<void>} options.onJoin
   */
  constructor({ local, onJoin }) {
    this.local = local;
    this.onJoin = onJoin;
    this.root = $("prejoin");
    this.preview = $("preview");
    this.previewOff = $("preview-off");
    this.status = $("device-status");
    this.name = $("name");
    this.level = new LevelMeter(local, $("prejoin-level"));
    // A guest's name, as typed last time on this device (the hub gives one to signed-in people).
    if (!this.name.value) this.name.value = rememberedName();
    this.nameError = $("name-error");
    this.knock = $("knock-message");
    this.knockError = $("knock-error");
    this.cameraSelect = $("camera-select");
    this.microphoneSelect = $("microphone-select");
    this.mutedToggle = $("start-muted");
    this.cameraOffToggle = $("start-camera-off");
    this.joinButton = $("join-button");
    this.progress = $("join-progress");
    this.failed = $("join-failed");
    this.failedText = $("join-failed-text");
    this.busy = false;
    this.blockedTimer = null; // while the hub asked us to wait before trying again
    this.devicesAsked = null; // the first camera/microphone request, while it is pending
    this.wire();
  }

  wire() {
    this.local.onTrack((kind) => {
      if (kind === "video") this.showPreview();
    });
    $("prejoin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.join();
    });
    $("join-retry").addEventListener("click", () => this.join());
    this.mutedToggle.addEventListener("click", () => {
      const muted = !this.pressed(this.mutedToggle);
      this.mutedToggle.setAttribute("aria-pressed", String(muted));
      this.local.setAudioEnabled(!muted);
    });
    this.cameraOffToggle.addEventListener("click", () => this.toggleCamera());
    this.cameraSelect.addEventListener("change", () => this.switchDevice("video", this.cameraSelect.value));
    this.microphoneSelect.addEventListener("change", () => this.switchDevice("audio", this.microphoneSelect.value));
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener("devicechange", () => this.fillDevices());
    }
    this.name.addEventListener("input", () => this.showNameError(false));
    this.knock.addEventListener("input", () => this.showKnockError(null));
  }

  pressed(button) {
    return button.getAttribute("aria-pressed") === "true";
  }

  setStatus(text, kind = "") {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  /** Ask for the camera and microphone and show what came of it. */
  async start() {
    this.setStatus(t("meeting.devices.asking"));
    this.devicesAsked = this.local.start();
    const problem = await this.devicesAsked;
    if (problem) {
      this.setStatus(t(`meeting.devices.${problem}`), "warning");
    } else {
      this.setStatus(t("meeting.devices.ready"), "ok");
    }
    // Without a track of a kind, joining with it off is the only honest choice.
    if (!this.local.hasAudio) this.mutedToggle.setAttribute("aria-pressed", "true");
    if (!this.local.hasVideo) this.cameraOffToggle.setAttribute("aria-pressed", "true");
    this.showPreview();
    this.level.start();
    await this.fillDevices();
  }

  showPreview() {
    const track = this.local.videoTrack;
    if (track && !this.pressed(this.cameraOffToggle)) {
      if (!this.preview.srcObject || this.preview.srcObject.getVideoTracks()[0] !== track) {
        this.preview.srcObject = new MediaStream([track]);
      }
      this.previewOff.hidden = true;
    } else {
      this.preview.srcObject = null;
      this.previewOff.hidden = false;
    }
  }

  async toggleCamera() {
    const off = !this.pressed(this.cameraOffToggle);
    this.cameraOffToggle.setAttribute("aria-pressed", String(off));
    if (off) {
      this.local.stopVideo();
      this.showPreview();
      return;
    }
    try {
      await this.local.startVideo();
    } catch (error) {
      console.warn("camera could not start", error);
      this.cameraOffToggle.setAttribute("aria-pressed", "true");
      this.setStatus(t("meeting.camera.failed"), "warning");
    }
    this.showPreview();
  }

  async switchDevice(kind, deviceId) {
    if (!deviceId) return;
    if (kind === "video" && this.pressed(this.cameraOffToggle)) {
      this.local.videoDeviceId = deviceId; // used when the camera is turned on
      return;
    }
    try {
      await this.local.switchDevice(kind, deviceId);
    } catch (error) {
      console.warn("device switch failed", error);
      this.setStatus(t("meeting.devices.busy"), "warning");
    }
  }

  async fillDevices() {
    const lists = await this.local.listDevices();
    fillDeviceSelect(this.cameraSelect, lists.cameras, this.local.videoDeviceId, t);
    fillDeviceSelect(this.microphoneSelect, lists.microphones, this.local.audioDeviceId, t);
  }

  showNameError(show) {
    this.nameError.hidden = !show;
    if (show) {
      this.name.setAttribute("aria-invalid", "true");
      this.name.setAttribute("aria-describedby", "name-hint name-error");
    } else {
      this.name.removeAttribute("aria-invalid");
      this.name.setAttribute("aria-describedby", "name-hint");
    }
  }

  /** Say what is wrong with the message for the organisers (`key`), or nothing (null). */
  showKnockError(key) {
    this.knockError.hidden = !key;
    this.knockError.textContent = key ? t(key) : "";
    if (key) {
      this.knock.setAttribute("aria-invalid", "true");
      this.knock.setAttribute("aria-describedby", "knock-hint knock-error");
    } else {
      this.knock.removeAttribute("aria-invalid");
      this.knock.setAttribute("aria-describedby", "knock-hint");
    }
  }

  setBusy(busy) {
    this.busy = busy;
    // aria-disabled rather than disabled: the button keeps focus and stays announced.
    this.joinButton.setAttribute("aria-disabled", String(busy || this.blockedTimer !== null));
    this.progress.textContent = busy ? t("meeting.joining") : "";
  }

  async join() {
    if (this.busy || this.blockedTimer !== null) return;
    const name = this.name.value.trim();
    if (!name) {
      this.showNameError(true);
      this.name.focus();
      return;
    }
    this.showNameError(false);
    const message = cleanNote(this.knock.value);
    const problem = noteProblem(message);
    this.showKnockError(problem);
    if (problem) {
      this.knock.focus();
      return;
    }
    rememberName(name);
    this.failed.hidden = true;
    this.setBusy(true);
    try {
      // Joining before the camera and microphone answered would join muted with the camera
      // off (no track yet) while the person chose neither: wait for the answer first.
      if (this.devicesAsked) await this.devicesAsked;
      await this.onJoin({
        name,
        message,
        audio: this.local.hasAudio && !this.pressed(this.mutedToggle),
        video: this.local.hasVideo && !this.pressed(this.cameraOffToggle),
      });
    } catch (error) {
      this.showFailed(error);
    } finally {
      this.setBusy(false);
    }
  }

  showFailed(error) {
    console.warn("join failed", error);
    const detail = $("join-failed-detail");
    if (error && error.retryAfter) {
      // Too many attempts: say when, and keep both buttons inert until then.
      this.failedText.textContent = t("meeting.rate_limited", { seconds: error.retryAfter });
      detail.textContent = "";
      this.block(error.retryAfter * 1000);
    } else {
      this.failedText.textContent = t("meeting.failed");
      // The hub's own reason (e.g. the meeting is full), when it gave one before closing.
      detail.textContent = error && error.hubMessage ? error.hubMessage : "";
    }
    detail.hidden = !detail.textContent;
    this.failed.hidden = false;
    $("join-retry").focus();
  }

  /** aria-disabled (not disabled) keeps the focused button focused and announced. */
  block(ms) {
    const buttons = [this.joinButton, $("join-retry")];
    for (const button of buttons) button.setAttribute("aria-disabled", "true");
    window.clearTimeout(this.blockedTimer);
    this.blockedTimer = window.setTimeout(() => {
      this.blockedTimer = null;
      for (const button of buttons) button.setAttribute("aria-disabled", "false");
    }, ms);
  }

  hide() {
    this.root.hidden = true;
    this.level.stop();
  }
}
