// How loud the microphone is, shown in a <meter>: on the pre-join page and in the meeting's
// settings, so a person sees that the right microphone hears them before anyone else does.
// The sound is analysed where it is captured (Web Audio), never sent anywhere for it.

const INTERVAL_MS = 100; // ten readings a second: enough for the eye, little CPU

export class LevelMeter {
  /**
   * @param {import("./devices.js").LocalMedia} local  whose microphone is measured
   * @param {HTMLMeterElement} meter
   */
  constructor(local, meter) {
    this.local = local;
    this.meter = meter;
    this.context = null;
    this.source = null;
    this.analyser = null;
    this.timer = null;
    this.track = null;
    local.onTrack((kind) => {
      if (kind === "audio" && this.timer !== null) this.attach();
    });
  }

  start() {
    if (this.timer !== null) return;
    this.attach();
    this.timer = window.setInterval(() => this.read(), INTERVAL_MS);
  }

  stop() {
    window.clearInterval(this.timer);
    this.timer = null;
    this.detach();
    this.meter.value = 0;
  }

  /** Listen to the current microphone track (again, after a device change). */
  attach() {
    const track = this.local.audioTrack;
    if (track === this.track) return;
    this.detach();
    this.track = track;
    if (!track || typeof AudioContext === "undefined") return;
    this.context ??= new AudioContext();
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 512;
    this.source.connect(this.analyser);
    this.samples = new Float32Array(this.analyser.fftSize);
  }

  detach() {
    if (this.source) this.source.disconnect();
    this.source = null;
    this.analyser = null;
    this.track = null;
  }

  /** The level as the root mean square of the last samples, on a 0–1 scale that shows speech. */
  read() {
    if (!this.analyser) {
      this.meter.value = 0;
      return;
    }
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const sample of this.samples) sum += sample * sample;
    const rms = Math.sqrt(sum / this.samples.length);
    // Speech is around 0.01–0.2 RMS: a square root spreads it over the meter.
    const level = this.local.audioEnabled ? Math.min(1, Math.sqrt(rms * 4)) : 0;
    this.meter.value = level;
    this.meter.dataset.level = level.toFixed(3);
  }
}
