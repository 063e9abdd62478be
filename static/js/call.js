// One person's presence in one meeting: the signaling socket, the two peer connections, the
// participant list, and the policy that keeps them alive (ICE restart, then a full rejoin with
// exponential backoff). Views subscribe with `on(event, fn)`; nothing here touches the DOM.

import { Signaling } from "./signaling.js";
import { PublishConnection, SubscribeConnection } from "./media.js";

const WELCOME_TIMEOUT_MS = 10000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;
const GIVE_UP_AFTER_MS = 120000;
// If an ICE restart has not brought media back in this time, start again from a new socket.
const MEDIA_RECOVERY_MS = 10000;

export class Call {
  constructor({ settings, localMedia }) {
    this.settings = settings;
    this.local = localMedia;
    this.state = "idle";
    this.listeners = new Map();
    this.participants = new Map(); // id -> {id, name, audio, video, screen, hand, isSelf}
    this.remote = new Map(); // participant id -> {camera, screen, audio} MediaStreams
    // track -> MediaStream, so video elements are not reset. Keyed by the track itself, not
    // its id: the hub names tracks after participant and mid, so a fresh subscribe connection
    // (after a network drop) brings new tracks with the old ids, and the old tracks are dead.
    this.streamCache = new WeakMap();
    this.selfId = null;
    this.activeSpeaker = null;
    this.signaling = null;
    this.publish = null;
    this.subscribe = null;
    this.welcome = null; // {resolve, reject, timer} while a join waits for its welcome
    this.connecting = false;
    this.name = "";
    this.audio = true;
    this.video = true;
    this.hand = false;
    this.lastError = null;
    this.reconnect = null; // {started, attempt, timer} while reconnecting
    this.troubled = new Set();
    this.recoveryTimer = null;
    localMedia.onTrack((kind, track) => this.localTrackChanged(kind, track));
  }

  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(listener);
  }

  emit(event, detail) {
    for (const listener of this.listeners.get(event) || []) listener(detail);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  // --- joining and staying joined ---------------------------------------------------------

  /** First join from the pre-join screen; rejects (state "failed") if it does not work. */
  async join({ name, audio, video }) {
    this.name = name;
    this.audio = audio;
    this.video = video;
    this.lastError = null;
    this.setState("connecting");
    try {
      await this.connect();
    } catch (error) {
      this.teardown();
      this.setState("failed");
      error.hubMessage = this.lastError;
      throw error;
    }
  }

  /** Open a new socket, send `join`, and wait for `welcome` (which creates the connections). */
  async connect() {
    this.teardown();
    this.connecting = true;
    try {
      await this.openAndJoin();
    } finally {
      this.connecting = false;
    }
  }

  async openAndJoin() {
    const signaling = new Signaling(this.settings.wsPath, {
      onMessage: (message) => {
        if (this.signaling === signaling) this.receive(message);
      },
      onClose: (info) => {
        if (this.signaling === signaling) this.socketClosed(info);
      },
    });
    this.signaling = signaling;
    await signaling.connect();
    const welcomed = new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => reject(new Error("no welcome from the hub")), WELCOME_TIMEOUT_MS);
      this.welcome = { resolve, reject, timer };
    });
    signaling.send({ type: "join", name: this.name, audio: this.audio, video: this.video });
    try {
      await welcomed;
    } finally {
      if (this.welcome) window.clearTimeout(this.welcome.timer);
      this.welcome = null;
    }
  }

  socketClosed(info) {
    console.info("signaling closed", info);
    if (this.welcome) {
      this.welcome.reject(new Error(this.lastError || `socket closed (${info.code})`));
      return; // join() or the reconnect loop decides what comes next
    }
    if (this.connecting) return; // refused before opening: connect() has already failed
    if (this.state === "ended" || this.state === "idle" || this.state === "failed") return;
    // 4000-4999 from the hub mean "do not come back" (refused, removed); anything else, such
    // as a restart or a network drop, is worth reconnecting.
    if (info.code >= 4000 && info.code < 5000 && !info.silent) {
      this.teardown();
      this.setState("disconnected");
      return;
    }
    this.startReconnect();
  }

  startReconnect() {
    if (this.reconnect) return;
    this.teardown();
    this.reconnect = { started: Date.now(), attempt: 0, timer: null };
    this.setState("reconnecting");
    this.scheduleAttempt();
  }

  scheduleAttempt() {
    const reconnect = this.reconnect;
    if (!reconnect) return;
    if (Date.now() - reconnect.started > GIVE_UP_AFTER_MS) {
      this.reconnect = null;
      this.setState("disconnected");
      return;
    }
    // Exponential backoff with jitter, so a hub restart is not met by everyone at once.
    const base = Math.min(BACKOFF_FIRST_MS * 2 ** reconnect.attempt, BACKOFF_MAX_MS);
    const delay = base * (0.75 + Math.random() * 0.5);
    reconnect.attempt += 1;
    reconnect.timer = window.setTimeout(() => this.attemptReconnect(), delay);
  }

  async attemptReconnect() {
    if (!this.reconnect) return;
    if (!navigator.onLine) {
      // No network at all: wait for it rather than burn attempts.
      window.addEventListener("online", () => this.attemptReconnect(), { once: true });
      return;
    }
    try {
      await this.connect();
      this.reconnect = null;
      this.emit("notice", { key: "meeting.notice.reconnected" });
    } catch (error) {
      console.warn("reconnect attempt failed", error);
      if (this.reconnect) this.scheduleAttempt();
    }
  }

  /** Leave a state where the hub gave up on us: the visible "retry" of a lost connection. */
  retry() {
    if (this.state !== "disconnected") return;
    this.startReconnect();
  }

  /** Close the socket and both connections; keeps local media and the join settings. */
  teardown() {
    if (this.signaling) this.signaling.detach();
    this.signaling = null;
    if (this.publish) this.publish.close();
    if (this.subscribe) this.subscribe.close();
    this.publish = null;
    this.subscribe = null;
    this.troubled.clear();
    window.clearTimeout(this.recoveryTimer);
  }

  leave() {
    if (this.signaling) this.signaling.send({ type: "leave" });
    if (this.reconnect) window.clearTimeout(this.reconnect.timer);
    this.reconnect = null;
    this.teardown();
    this.local.stopAll();
    this.setState("idle");
  }

  send(message) {
    return this.signaling ? this.signaling.send(message) : false;
  }

  // --- messages from the hub --------------------------------------------------------------

  receive(message) {
    switch (message.type) {
      case "welcome": return this.welcomed(message);
      case "publish_answer": return this.publish && this.publish.handleAnswer(message.sdp);
      case "subscribe_offer": return this.subscribe && this.subscribe.handleOffer(message);
      case "participant_joined": return this.upsert(message.participant, true);
      case "participant_updated": return this.upsert(message.participant, false);
      case "participant_left": return this.removeParticipant(message.participant_id);
      case "chat": return this.emit("chat", message);
      case "active_speaker":
        this.activeSpeaker = message.participant_id ?? null;
        return this.emit("speaker", this.activeSpeaker);
      case "ended": return this.ended(message.reason);
      case "error": return this.hubError(message);
      case "pong": return undefined;
      default:
        console.info("signaling: ignored message type", message.type);
        return undefined;
    }
  }

  welcomed(message) {
    this.selfId = message.participant_id;
    this.participants.clear();
    this.remote.clear();
    for (const participant of message.participants || []) this.store(participant);
    const iceServers = message.ice_servers || [];
    const send = (msg) => this.send(msg);
    const trouble = (name) => () => this.iceTrouble(name);
    const recovered = (name) => () => this.iceRecovered(name);
    this.publish = new PublishConnection({
      iceServers, send,
      audioTrack: this.local.audioTrack,
      videoTrack: this.local.videoTrack,
      onTrouble: trouble("publish"),
      onRecovered: recovered("publish"),
    });
    this.subscribe = new SubscribeConnection({
      iceServers, send,
      onStreams: (streams) => this.remoteStreams(streams),
      onTrouble: trouble("subscribe"),
      onRecovered: recovered("subscribe"),
    });
    if (this.local.screenTrack) this.publish.setScreen(this.local.screenTrack).catch(logError("publish"));
    else this.publish.negotiate().catch(logError("publish"));
    if (this.welcome) this.welcome.resolve();
    this.setState("connected");
    this.emitParticipants();
  }

  store(info) {
    const participant = {
      id: info.id,
      name: info.name,
      audio: Boolean(info.audio),
      video: Boolean(info.video),
      screen: Boolean(info.screen),
      hand: Boolean(info.hand),
      isSelf: Boolean(info.is_self) || info.id === this.selfId,
    };
    this.participants.set(participant.id, participant);
    return participant;
  }

  upsert(info, joined) {
    const known = this.participants.has(info.id);
    const before = this.participants.get(info.id);
    const participant = this.store(info);
    if (joined && !known && !participant.isSelf) {
      this.emit("notice", { key: "meeting.notice.joined", values: { name: participant.name } });
    }
    if (before && !before.hand && participant.hand && !participant.isSelf) {
      this.emit("notice", { key: "meeting.notice.hand", values: { name: participant.name } });
    }
    this.emitParticipants();
  }

  removeParticipant(id) {
    const participant = this.participants.get(id);
    if (!participant) return;
    this.participants.delete(id);
    this.remote.delete(id);
    this.emit("notice", { key: "meeting.notice.left", values: { name: participant.name } });
    this.emitParticipants();
  }

  emitParticipants() {
    this.emit("participants", [...this.participants.values()]);
  }

  hubError(message) {
    console.warn("hub error", message);
    this.lastError = message.message || message.code;
    if (message.request === "publish_offer" && this.publish) {
      this.publish.rejectPending(new Error(message.message));
    }
    this.emit("error", message);
  }

  ended(reason) {
    if (this.reconnect) window.clearTimeout(this.reconnect.timer);
    this.reconnect = null;
    this.teardown();
    this.local.stopAll();
    this.setState("ended");
    this.emit("ended", reason);
  }

  /** Group the subscribe connection's tracks per participant and source. */
  remoteStreams(streams) {
    const remote = new Map();
    for (const { participantId, source, track } of streams) {
      const slot = source === "screen" ? "screen" : source === "camera" ? "camera" : source === "screen_audio" ? "screenAudio" : "audio";
      if (!remote.has(participantId)) remote.set(participantId, {});
      let stream = this.streamCache.get(track);
      if (!stream) {
        stream = new MediaStream([track]);
        this.streamCache.set(track, stream);
      }
      remote.get(participantId)[slot] = stream;
    }
    this.remote = remote;
    this.emit("media", remote);
  }

  // --- ICE trouble: restart first, rejoin if that is not enough ----------------------------

  iceTrouble(name) {
    this.troubled.add(name);
    if (this.state === "connected") this.setState("reconnecting");
    // Publish: we are the offerer, so we restart ICE. Subscribe: the hub is, and it answers
    // `reconnect` with an offer for a fresh connection (docs/signaling.md).
    if (name === "publish" && this.publish) this.publish.restartIce().catch(logError("ICE restart"));
    if (name === "subscribe") this.send({ type: "reconnect" });
    window.clearTimeout(this.recoveryTimer);
    this.recoveryTimer = window.setTimeout(() => {
      if (this.troubled.size > 0 && !this.reconnect) this.startReconnect();
    }, MEDIA_RECOVERY_MS);
  }

  iceRecovered(name) {
    this.troubled.delete(name);
    if (this.troubled.size === 0) {
      window.clearTimeout(this.recoveryTimer);
      if (this.state === "reconnecting" && !this.reconnect) this.setState("connected");
    }
  }

  // --- the person's own actions -----------------------------------------------------------

  self() {
    return this.participants.get(this.selfId);
  }

  updateSelf(changes) {
    const self = this.self();
    if (self) Object.assign(self, changes);
    this.emitParticipants();
  }

  sendMedia() {
    this.send({ type: "media", audio: this.audio, video: this.video });
    this.updateSelf({ audio: this.audio, video: this.video });
  }

  async setAudio(on) {
    if (on && !this.local.hasAudio) await this.local.acquire("audio", this.local.audioDeviceId);
    this.local.setAudioEnabled(on);
    this.audio = on;
    this.sendMedia();
  }

  async setVideo(on) {
    if (on) await this.local.startVideo();
    else this.local.stopVideo();
    this.video = on;
    this.sendMedia();
  }

  async toggleScreen() {
    if (this.local.screenTrack) this.local.stopScreen();
    else await this.local.startScreen();
  }

  setHand(raised) {
    this.hand = raised;
    this.send({ type: "hand", raised });
    this.updateSelf({ hand: raised });
  }

  sendChat(text) {
    return this.send({ type: "chat", text });
  }

  localTrackChanged(kind, track) {
    if (kind === "screen") {
      this.updateSelf({ screen: Boolean(track) });
      this.emit("local-screen", track);
      if (this.publish) this.publish.setScreen(track).catch(logError("screen"));
      return;
    }
    if (this.publish) this.publish.replaceTrack(kind, track).catch(logError("replaceTrack"));
    this.emit("local-media", kind);
  }
}

function logError(what) {
  return (error) => console.warn(`${what} failed`, error);
}
