// In-meeting device settings: camera, microphone (with its level) and speaker, changed without
// leaving the meeting. A new camera or microphone track replaces the old one in the publish
// connection (LocalMedia's listeners); the speaker is each remote sound's output device.

import { t } from "./i18n.js";
import { $ } from "./dom.js";
import { fillDeviceSelect } from "./devices.js";
import { LevelMeter } from "./level-meter.js";

export class SettingsPanel {
  /**
   * @param {object} options
   * @param {import("./call.js").Call} options.call
   * @param {import("./devices.js").LocalMedia} options.local
   * @param {() => HTMLAudioElement[]} options.sinks  the remote sounds playing now
   */
  constructor({ call, local, sinks }) {
    this.call = call;
    this.local = local;
    this.sinks = sinks;
    this.speakerId = "";
    this.level = new LevelMeter(local, $("settings-level"));
    this.speakerSupported = "setSinkId" in HTMLMediaElement.prototype;
    $("settings-camera").addEventListener("change", (event) => this.camera(event.target.value));
    $("settings-microphone").addEventListener("change", (event) => this.microphone(event.target.value));
    $("settings-speaker").addEventListener("change", (event) => this.speaker(event.target.value));
  }

  async open() {
    this.level.start();
    const lists = await this.local.listDevices();
    fillDeviceSelect($("settings-camera"), lists.cameras, this.local.videoDeviceId, t);
    fillDeviceSelect($("settings-microphone"), lists.microphones, this.local.audioDeviceId, t);
    fillDeviceSelect($("settings-speaker"), lists.speakers, this.speakerId, t);
    if (!this.speakerSupported) {
      $("settings-speaker").disabled = true;
      this.status(t("meeting.speaker.unsupported"));
    }
  }

  close() {
    this.level.stop();
  }

  status(text) {
    $("settings-status").textContent = text;
  }

  async camera(deviceId) {
    if (!deviceId) return;
    if (!this.call.video) {
      this.local.videoDeviceId = deviceId; // taken when the camera is turned back on
      return;
    }
    await this.switch("video", deviceId, "meeting.camera.failed");
  }

  async microphone(deviceId) {
    if (deviceId) await this.switch("audio", deviceId, "meeting.devices.busy");
  }

  async switch(kind, deviceId, failureKey) {
    try {
      await this.local.switchDevice(kind, deviceId);
      this.status("");
    } catch (error) {
      console.warn(`${kind} switch failed`, error);
      this.status(t(failureKey));
    }
  }

  /** Play every remote sound, now and later, on the chosen output. */
  async speaker(deviceId) {
    this.speakerId = deviceId;
    await Promise.all(this.sinks().map((audio) => this.route(audio)));
  }

  async route(audio) {
    if (!this.speakerSupported || !this.speakerId) return;
    try {
      await audio.setSinkId(this.speakerId);
    } catch (error) {
      console.warn("setSinkId failed", error);
      this.status(t("meeting.devices.busy"));
    }
  }
}
