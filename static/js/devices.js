// The person's own camera, microphone and screen. One MediaStream holds the current camera and
// microphone tracks so the preview and the self tile follow every change; listeners learn of
// each new or removed track so the publish connection can swap it without renegotiating.

const VIDEO_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } };

/** Why media could not be had, as a key of the `meeting.devices.*` strings. */
export function describeMediaError(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "none";
    case "NotReadableError":
    case "AbortError":
      return "busy";
    default:
      return "busy";
  }
}

/** Fill a <select> with devices, `currentId` selected; one disabled "none" entry if empty. */
export function fillDeviceSelect(select, devices, currentId, t) {
  select.replaceChildren();
  if (devices.length === 0) {
    select.append(new Option(t("meeting.device_none"), ""));
    select.disabled = true;
    return;
  }
  devices.forEach((device, index) => {
    const label = device.label || t("meeting.device_unnamed", { n: index + 1 });
    select.append(new Option(label, device.deviceId, false, device.deviceId === currentId));
  });
  select.disabled = false;
}

export function mediaSupported() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

export class LocalMedia {
  constructor() {
    this.stream = new MediaStream();
    this.audioTrack = null;
    this.videoTrack = null;
    this.screenTrack = null;
    this.audioEnabled = true;
    this.audioDeviceId = null;
    this.videoDeviceId = null;
    this.listeners = new Set();
  }

  /** `listener(kind, track)` is called with kind "audio", "video" or "screen"; track may be null. */
  onTrack(listener) {
    this.listeners.add(listener);
  }

  emit(kind, track) {
    for (const listener of this.listeners) listener(kind, track);
  }

  /**
   * Ask for camera and microphone. Returns null on success (even partial: a laptop without a
   * camera still joins with its microphone), else the reason key ("denied", "none", "busy",
   * "unsupported").
   */
  async start() {
    if (!mediaSupported()) return "unsupported";
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: VIDEO_CONSTRAINTS });
      for (const track of stream.getTracks()) this.adopt(track);
      return null;
    } catch (error) {
      const reason = describeMediaError(error);
      if (reason === "denied") return reason;
      // One kind may be missing or busy while the other works: try each alone.
      const audio = await this.acquire("audio").catch(() => null);
      const video = await this.acquire("video").catch(() => null);
      return audio || video ? null : reason;
    }
  }

  /** Get one new track of `kind` ("audio" | "video"), from `deviceId` if given. */
  async acquire(kind, deviceId = null) {
    const base = kind === "video" ? { ...VIDEO_CONSTRAINTS } : {};
    if (deviceId) base.deviceId = { exact: deviceId };
    const constraints = { [kind]: Object.keys(base).length ? base : true };
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    const track = stream.getTracks()[0];
    this.adopt(track);
    return track;
  }

  /** Make `track` the current track of its kind, stopping the one it replaces. */
  adopt(track) {
    const kind = track.kind;
    const old = kind === "audio" ? this.audioTrack : this.videoTrack;
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    const deviceId = track.getSettings ? track.getSettings().deviceId || null : null;
    if (kind === "audio") {
      this.audioTrack = track;
      this.audioDeviceId = deviceId;
      track.enabled = this.audioEnabled;
    } else {
      this.videoTrack = track;
      this.videoDeviceId = deviceId;
    }
    this.emit(kind, track);
  }

  get hasAudio() {
    return Boolean(this.audioTrack && this.audioTrack.readyState === "live");
  }

  get hasVideo() {
    return Boolean(this.videoTrack && this.videoTrack.readyState === "live");
  }

  /** Mute by disabling the track: instant, and unmuting needs no new permission. */
  setAudioEnabled(enabled) {
    this.audioEnabled = enabled;
    if (this.audioTrack) this.audioTrack.enabled = enabled;
  }

  /** Turn the camera off by stopping it, so its light goes off too. */
  stopVideo() {
    if (!this.videoTrack) return;
    this.stream.removeTrack(this.videoTrack);
    this.videoTrack.stop();
    this.videoTrack = null;
    this.emit("video", null);
  }

  async startVideo() {
    return this.acquire("video", this.videoDeviceId);
  }

  async switchDevice(kind, deviceId) {
    if (kind === "video") this.videoDeviceId = deviceId;
    else this.audioDeviceId = deviceId;
    return this.acquire(kind, deviceId);
  }

  /** Cameras, microphones and speakers; empty lists when the browser cannot tell. */
  async listDevices() {
    let devices = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch (error) {
      console.warn("enumerateDevices failed", error);
    }
    const pick = (kind) => devices.filter((d) => d.kind === kind && d.deviceId);
    return { cameras: pick("videoinput"), microphones: pick("audioinput"), speakers: pick("audiooutput") };
  }

  /** Start sharing a screen or window; resolves to the track, or throws if refused. */
  async startScreen() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
      throw new Error("getDisplayMedia is not available");
    }
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    // Detail hint: the encoder keeps text sharp rather than motion smooth.
    if ("contentHint" in track) track.contentHint = "detail";
    this.screenTrack = track;
    // The browser's own "stop sharing" bar ends the track without going through our button.
    track.addEventListener("ended", () => {
      if (this.screenTrack === track) this.stopScreen();
    });
    this.emit("screen", track);
    return track;
  }

  stopScreen() {
    const track = this.screenTrack;
    if (!track) return;
    this.screenTrack = null;
    track.stop();
    this.emit("screen", null);
  }

  stopAll() {
    this.stopScreen();
    for (const track of this.stream.getTracks()) track.stop();
    this.stream = new MediaStream();
    this.audioTrack = null;
    this.videoTrack = null;
  }
}
