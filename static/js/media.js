// The two peer connections of docs/signaling.md. "publish": this page offers its own tracks
// (sendonly) and the hub answers. "subscribe": the hub offers the others' tracks and this page
// answers. With one offerer per connection, neither side ever has to resolve offer glare.

const GATHER_TIMEOUT_MS = 2000;
const ANSWER_TIMEOUT_MS = 10000;
const ICE_TROUBLE_MS = 2000;
// The camera in three VP8 layers, lowest first as the hub expects (docs/simulcast.md).
// Chromium sends a layer only if the capture is large enough: 640x360 gives q and h.
const SIMULCAST_ENCODINGS = [
  { rid: "q", scaleResolutionDownBy: 4 },
  { rid: "h", scaleResolutionDownBy: 2 },
  { rid: "f" },
];

/** Resolve when ICE gathering completes, or after `timeoutMs`: without a usable host candidate
 *  Chromium never completes, and the candidates found later are trickled anyway. */
export function waitForIceGathering(pc, timeoutMs = GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      window.clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = window.setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/** Only the ICE servers the hub named; never a browser default or a public STUN server. */
function peerConfig(iceServers) {
  return { iceServers: Array.isArray(iceServers) ? iceServers : [], bundlePolicy: "max-bundle" };
}

/**
 * Trickle candidates found after the description was sent. Those found before are already in
 * the SDP, and sending them earlier could reach the hub before the description they belong to.
 */
function trickle(pc, name, send, isSent) {
  pc.addEventListener("icecandidate", (event) => {
    if (!event.candidate || !event.candidate.candidate || !isSent()) return;
    send({
      type: "ice",
      pc: name,
      candidate: event.candidate.candidate,
      sdp_mid: event.candidate.sdpMid ?? undefined,
      sdp_mline_index: event.candidate.sdpMLineIndex ?? undefined,
    });
  });
}

/**
 * Calls `onUnsteady()` as soon as ICE is "disconnected" or "failed" (the page shows it at
 * once), `onTrouble()` once that has lasted more than 2 s, so a short blip does not trigger
 * a restart, and `onRecovered()` each time it is connected (also on a fresh connection that
 * replaced a troubled one).
 */
function watchIce(pc, onTrouble, onRecovered, onUnsteady = () => {}) {
  let timer = null;
  let troubled = false;
  const changed = () => {
    const state = pc.iceConnectionState;
    const whole = pc.connectionState;
    if (state === "disconnected" || state === "failed" || whole === "disconnected" || whole === "failed") {
      onUnsteady();
      if (timer === null && !troubled) {
        timer = window.setTimeout(() => {
          timer = null;
          troubled = true;
          onTrouble(state);
        }, ICE_TROUBLE_MS);
      }
    } else if (state === "connected" || state === "completed") {
      window.clearTimeout(timer);
      timer = null;
      troubled = false;
      onRecovered();
    }
  };
  pc.addEventListener("iceconnectionstatechange", changed);
  pc.addEventListener("connectionstatechange", changed);
  return () => window.clearTimeout(timer);
}

export class PublishConnection {
  /**
   * @param {object} options
   * @param {RTCIceServer[]} options.iceServers  from welcome.ice_servers only
   * @param {(msg: object) => boolean} options.send
   * @param {MediaStreamTrack|null} options.audioTrack
   * @param {MediaStreamTrack|null} options.videoTrack
   * @param {boolean} options.simulcast      welcome.simulcast: send the camera in three layers
   * @param {() => void} options.onTrouble     ICE stayed down for more than 2 s
   * @param {() => void} options.onRecovered   ICE is back
   */
  constructor({ iceServers, send, audioTrack, videoTrack, simulcast, onTrouble, onRecovered, onUnsteady }) {
    this.pc = new RTCPeerConnection(peerConfig(iceServers));
    this.send = send;
    this.sent = false;
    this.pending = null; // resolves the offer waiting for publish_answer
    this.queued = false; // a change arrived while an offer was in flight
    this.busy = false;
    this.closed = false;
    // Microphone and camera transceivers always exist, even without a track, so their mids
    // stay stable and turning the camera back on needs no renegotiation (replaceTrack).
    this.microphone = this.pc.addTransceiver(audioTrack || "audio", { direction: "sendonly" });
    // Only if the hub said it receives simulcast: a hub that does not would get the first
    // (lowest) layer only. Encodings can only be chosen here, when the transceiver is made.
    const camera = { direction: "sendonly" };
    if (simulcast) camera.sendEncodings = SIMULCAST_ENCODINGS.map((encoding) => ({ ...encoding }));
    this.camera = this.pc.addTransceiver(videoTrack || "video", camera);
    this.screen = null; // one encoding at full quality: text must stay readable
    trickle(this.pc, "publish", send, () => this.sent);
    this.stopWatch = watchIce(this.pc, () => onTrouble(), () => onRecovered(), onUnsteady);
  }

  /**
   * Encode only these simulcast layers of the track `mid` (the hub's `encodings`: nobody
   * watches the others); the browser then stops spending CPU and uplink on them.
   */
  async encodeOnly(mid, rids) {
    const transceiver = [this.camera, this.screen].find((t) => t && t.mid === mid);
    if (!transceiver) return;
    const sender = transceiver.sender;
    const parameters = sender.getParameters();
    if (!parameters.encodings || parameters.encodings.length < 2) return;
    let changed = false;
    for (const encoding of parameters.encodings) {
      const active = rids.includes(encoding.rid);
      if (encoding.active !== active) {
        encoding.active = active;
        changed = true;
      }
    }
    if (changed) await sender.setParameters(parameters);
  }

  /** What each sending transceiver carries, for publish_offer.tracks. */
  tracks() {
    const tracks = [];
    const describe = (transceiver, source) => {
      if (transceiver && transceiver.mid !== null && transceiver.direction === "sendonly") {
        tracks.push({ mid: transceiver.mid, source });
      }
    };
    describe(this.microphone, "microphone");
    describe(this.camera, "camera");
    describe(this.screen, "screen");
    return tracks;
  }

  /**
   * Send a (new) offer and apply the answer. Calls made while an offer is in flight are folded
   * into one more offer afterwards, so the hub only ever sees one outstanding publish_offer.
   */
  async negotiate() {
    if (this.busy) {
      this.queued = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.queued = false;
        await this.offerOnce();
      } while (this.queued && !this.closed);
    } finally {
      this.busy = false;
    }
  }

  async offerOnce() {
    const offer = await this.pc.createOffer();
    if (this.closed) return;
    await this.pc.setLocalDescription(offer);
    await waitForIceGathering(this.pc);
    if (this.closed) return;
    const answered = new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => reject(new Error("no publish_answer in time")), ANSWER_TIMEOUT_MS);
      this.pending = { resolve, reject, timer };
    });
    const sdp = this.pc.localDescription.sdp;
    if (this.send({ type: "publish_offer", sdp, tracks: this.tracks() })) {
      this.sent = true;
    } else {
      this.settle(new Error("signaling is closed"));
    }
    await answered;
  }

  settle(error, sdp) {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    window.clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(sdp);
  }

  async handleAnswer(sdp) {
    if (this.pc.signalingState !== "have-local-offer") {
      console.warn("publish: ignored an answer with no offer outstanding");
      return;
    }
    try {
      await this.pc.setRemoteDescription({ type: "answer", sdp });
      this.settle(null, sdp);
    } catch (error) {
      this.settle(error);
    }
  }

  /** The hub could not use our offer (an `error` about publish_offer): stop waiting for it. */
  rejectPending(error) {
    this.settle(error);
  }

  /** A new microphone or camera track (or null) goes out without renegotiation. */
  async replaceTrack(kind, track) {
    const transceiver = kind === "audio" ? this.microphone : this.camera;
    await transceiver.sender.replaceTrack(track);
  }

  /**
   * Start (track) or stop (null) sending a screen. The screen transceiver is reused rather than
   * stopped, so the SDP keeps a fixed number of m-lines however often one shares.
   */
  async setScreen(track) {
    if (track) {
      if (this.screen) {
        await this.screen.sender.replaceTrack(track);
        this.screen.direction = "sendonly";
      } else {
        this.screen = this.pc.addTransceiver(track, { direction: "sendonly" });
      }
    } else if (this.screen) {
      await this.screen.sender.replaceTrack(null);
      this.screen.direction = "inactive";
    }
    await this.negotiate();
  }

  /** New ICE credentials and a new offer: how a dropped network path is found again. */
  async restartIce() {
    this.pc.restartIce();
    await this.negotiate();
  }

  close() {
    this.closed = true;
    this.stopWatch();
    this.settle(new Error("closed"));
    this.pc.close();
  }
}

export class SubscribeConnection {
  /**
   * @param {object} options
   * @param {RTCIceServer[]} options.iceServers
   * @param {(msg: object) => boolean} options.send
   * @param {(streams: Array<{participantId: string, source: string, kind: string, track: MediaStreamTrack}>) => void} options.onStreams
   * @param {() => void} options.onTrouble
   * @param {() => void} options.onRecovered
   */
  constructor({ iceServers, send, onStreams, onTrouble, onRecovered, onUnsteady }) {
    this.iceServers = iceServers;
    this.send = send;
    this.onStreams = onStreams;
    this.onTrouble = onTrouble;
    this.onRecovered = onRecovered;
    this.onUnsteady = onUnsteady;
    this.closed = false;
    this.streams = []; // the last subscribe_offer's streams, for tests and stats
    this.chain = Promise.resolve(); // offers are answered strictly in order
    this.pc = null;
    this.fresh();
  }

  /** A new RTCPeerConnection, for the start and for an offer with `restart: true` (the hub
   *  cannot restart ICE on its side, so it starts over and so must we). */
  fresh() {
    if (this.pc) {
      this.stopWatch();
      this.pc.close();
    }
    const pc = new RTCPeerConnection(peerConfig(this.iceServers));
    this.pc = pc;
    this.sent = false;
    trickle(pc, "subscribe", this.send, () => this.sent && this.pc === pc);
    this.stopWatch = watchIce(pc, () => this.onTrouble(), () => this.onRecovered(), () => this.onUnsteady());
  }

  handleOffer(message) {
    this.chain = this.chain
      .then(() => this.answer(message))
      .catch((error) => console.error("subscribe: could not answer the hub's offer", error));
    return this.chain;
  }

  async answer({ sdp, streams, restart }) {
    if (this.closed) return;
    if (restart) this.fresh();
    this.streams = Array.isArray(streams) ? streams : [];
    await this.pc.setRemoteDescription({ type: "offer", sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await waitForIceGathering(this.pc);
    if (this.closed) return;
    this.send({ type: "subscribe_answer", sdp: this.pc.localDescription.sdp });
    this.sent = true;
    this.onStreams(this.currentStreams());
  }

  /**
   * Remote tracks by participant, found through each transceiver's mid rather than `ontrack`:
   * the hub may give a mid to another participant in a later offer, which fires no new event.
   */
  currentStreams() {
    const byMid = new Map(this.streams.map((stream) => [stream.mid, stream]));
    const result = [];
    for (const transceiver of this.pc.getTransceivers()) {
      const info = transceiver.mid !== null ? byMid.get(transceiver.mid) : undefined;
      if (!info || transceiver.currentDirection === "inactive" || transceiver.stopped) continue;
      result.push({
        mid: transceiver.mid,
        participantId: info.participant_id,
        source: info.source,
        kind: info.kind,
        track: transceiver.receiver.track,
      });
    }
    return result;
  }

  close() {
    this.closed = true;
    this.stopWatch();
    this.pc.close();
  }
}
