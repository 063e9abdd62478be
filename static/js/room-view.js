// The in-meeting screen: video tiles, side panels (participants, chat, lobby), toolbar and
// announcements. It only reads the Call's state and calls its actions; every text comes from t().

import { t } from "./i18n.js";
import { $, element } from "./dom.js";
import { LobbyPanel } from "./lobby-panel.js";
import { ParticipantList, stateBadges } from "./participant-list.js";

const NOTICE_MS = 6000;
const MAX_NOTICES = 4;
// The side panels and the toolbar buttons that open them.
const PANELS = { participants: "toggle-participants", chat: "toggle-chat", lobby: "toggle-lobby" };
// Errors the page handles itself rather than showing the hub's text.
const QUIET_ERRORS = new Set(["not_admitted"]);

function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((word) => word[0].toUpperCase()).join("") || "?";
}

/** Show `stream` in `video` without resetting playback when it is already there. */
function attach(video, stream) {
  if (video.srcObject !== stream) video.srcObject = stream || null;
}

export class RoomView {
  constructor({ call, local }) {
    this.call = call;
    this.local = local;
    this.root = $("room");
    this.grid = $("grid");
    this.tiles = new Map(); // tile key -> <li>
    this.sinks = new Map(); // participant id -> <audio>
    this.selfCamera = null; // MediaStreams around the local camera and screen tracks
    this.selfScreen = null;
    this.panel = null;
    this.unread = 0;
    this.pendingChat = [];
    const notify = (text, kind) => this.notify(text, kind);
    this.participantList = new ParticipantList({ call, notify });
    this.lobbyPanel = new LobbyPanel({ call, notify });
    this.wire();
  }

  wire() {
    const call = this.call;
    call.on("state", (state) => this.renderState(state));
    call.on("participants", () => this.render());
    call.on("media", () => this.render());
    call.on("local-media", () => this.render());
    call.on("local-screen", () => this.render());
    call.on("speaker", () => this.renderSpeaker());
    call.on("chat", (message) => this.addChat(message));
    call.on("notice", ({ key, values }) => this.notify(t(key, values)));
    call.on("error", (message) => this.hubError(message));
    call.on("role", () => this.render());
    call.on("meeting-state", () => this.renderModeration());

    this.toggle("toggle-mic", () => !this.call.audio, (off) => this.call.setAudio(!off), "meeting.devices.busy");
    this.toggle("toggle-camera", () => !this.call.video, (off) => this.call.setVideo(!off), "meeting.camera.failed");
    this.toggle("toggle-screen", () => Boolean(this.local.screenTrack), () => this.call.toggleScreen(), "meeting.screen.failed");
    this.toggle("toggle-hand", () => this.call.hand, (raised) => this.call.setHand(raised), null);
    for (const [name, id] of Object.entries(PANELS)) {
      $(id).addEventListener("click", () => this.openPanel(this.panel === name ? null : name));
    }
    $("toggle-lock").addEventListener("click", () => {
      if (!this.call.setLocked(!this.call.locked)) this.notify(t("meeting.moderation.not_sent"), "error");
    });
    for (const button of this.root.querySelectorAll(".panel-close")) {
      button.addEventListener("click", () => this.openPanel(null));
    }
    $("reconnect").addEventListener("click", () => this.call.retry());
    $("chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendChat();
    });
  }

  /** A toolbar toggle: `isOn()` gives aria-pressed, `act(next)` changes it, errors are shown. */
  toggle(id, isOn, act, failureKey) {
    const button = $(id);
    button.addEventListener("click", async () => {
      try {
        await act(!isOn());
      } catch (error) {
        console.warn(`${id} failed`, error);
        if (failureKey) this.notify(t(failureKey), "error");
      }
      this.renderToolbar();
    });
  }

  show() {
    this.root.hidden = false;
    this.render();
    this.renderState(this.call.state);
    $("room-title").focus();
  }

  hide() {
    this.root.hidden = true;
    for (const audio of this.sinks.values()) audio.srcObject = null;
  }

  renderState(state) {
    const badge = $("connection-state");
    badge.dataset.state = state;
    badge.textContent = t(`meeting.state.${state}`);
    // Automatic reconnection gave up (or the hub said not to come back): offer it by hand.
    $("reconnect").hidden = state !== "disconnected";
  }

  render() {
    this.renderGrid();
    this.renderAudio();
    this.participantList.render();
    this.renderToolbar();
    this.renderSpeaker();
    this.renderModeration();
  }

  /** What depends on the role (moderation controls) and the meeting's lock, for everyone. */
  renderModeration() {
    const moderator = this.call.isModerator;
    for (const id of ["toggle-lobby", "toggle-lock"]) $(id).hidden = !moderator;
    $("end-for-all").hidden = !moderator;
    $("toggle-lock").setAttribute("aria-pressed", String(this.call.locked));
    $("locked-indicator").hidden = !this.call.locked;
    if (!moderator && this.panel === "lobby") this.openPanel(null);
    this.lobbyPanel.render();
  }

  hubError(message) {
    if (QUIET_ERRORS.has(message.code)) return;
    if (message.request === "end_meeting") {
      this.notify(t("meeting.end.failed"), "error");
      return;
    }
    if (message.code === "rate_limited") {
      const seconds = Math.max(1, Math.ceil(this.call.retryWait() / 1000));
      this.notify(t("meeting.rate_limited", { seconds }), "error");
      return;
    }
    this.notify(t("meeting.notice.error", { message: message.message || message.code }), "error");
  }

  renderToolbar() {
    $("toggle-mic").setAttribute("aria-pressed", String(!this.call.audio));
    $("toggle-camera").setAttribute("aria-pressed", String(!this.call.video));
    $("toggle-screen").setAttribute("aria-pressed", String(Boolean(this.local.screenTrack)));
    $("toggle-hand").setAttribute("aria-pressed", String(this.call.hand));
  }

  /** One tile per participant, plus a larger one per screen share. */
  renderGrid() {
    const wanted = new Map();
    for (const participant of this.call.participants.values()) {
      const remote = this.call.remote.get(participant.id) || {};
      let camera = remote.camera;
      let screen = remote.screen;
      if (participant.isSelf) {
        camera = this.selfStream("selfCamera", this.local.videoTrack);
        screen = this.selfStream("selfScreen", this.local.screenTrack);
      }
      const showVideo = Boolean(camera) && (participant.isSelf ? this.call.video : participant.video);
      wanted.set(`${participant.id}:camera`, { participant, stream: showVideo ? camera : null, screen: false });
      if (screen || participant.screen) {
        wanted.set(`${participant.id}:screen`, { participant, stream: screen || null, screen: true });
      }
    }
    for (const [key, tile] of this.tiles) {
      if (!wanted.has(key)) {
        tile.remove();
        this.tiles.delete(key);
      }
    }
    for (const [key, spec] of wanted) this.renderTile(key, spec);
    const cameras = [...wanted.values()].filter((spec) => !spec.screen).length;
    const columns = cameras <= 1 ? 1 : cameras <= 4 ? 2 : cameras <= 9 ? 3 : 4;
    this.grid.style.setProperty("--columns", String(columns));
  }

  /** A stream around one local track, kept while the track stays the same. */
  selfStream(slot, track) {
    if (!track) return null;
    if (!this[slot] || this[slot].getVideoTracks()[0] !== track) this[slot] = new MediaStream([track]);
    return this[slot];
  }

  renderTile(key, { participant, stream, screen }) {
    let tile = this.tiles.get(key);
    if (!tile) {
      tile = element("li", screen ? "tile tile-screen" : "tile");
      tile.dataset.participant = participant.id;
      tile.dataset.source = screen ? "screen" : "camera";
      const video = element("video");
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true; // sound plays through the audio sinks, once per participant
      if (participant.isSelf && !screen) video.className = "mirrored";
      const avatar = element("div", "avatar");
      avatar.setAttribute("aria-hidden", "true");
      avatar.append(element("span"));
      tile.append(video, avatar, element("p", "tile-label"));
      this.tiles.set(key, tile);
      this.grid.append(tile);
    }
    const name = participant.isSelf ? t("meeting.you", { name: participant.name }) : participant.name;
    const video = tile.querySelector("video");
    attach(video, stream);
    video.hidden = !stream;
    const avatar = tile.querySelector(".avatar");
    avatar.hidden = Boolean(stream);
    avatar.firstChild.textContent = initials(participant.name);
    const label = tile.querySelector(".tile-label");
    label.replaceChildren(element("span", "tile-name", screen ? t("meeting.screen_of", { name }) : name));
    if (!screen) for (const badge of stateBadges(participant)) label.append(badge);
  }

  /** One <audio> per remote participant; our own sound is never played back to us. */
  renderAudio() {
    const container = $("audio-sinks");
    const wanted = new Map();
    for (const [id, streams] of this.call.remote) {
      if (id !== this.call.selfId && streams.audio) wanted.set(id, streams.audio);
    }
    for (const [id, audio] of this.sinks) {
      if (!wanted.has(id)) {
        audio.srcObject = null;
        audio.remove();
        this.sinks.delete(id);
      }
    }
    for (const [id, stream] of wanted) {
      let audio = this.sinks.get(id);
      if (!audio) {
        audio = element("audio");
        audio.autoplay = true;
        container.append(audio);
        this.sinks.set(id, audio);
      }
      attach(audio, stream);
    }
  }

  renderSpeaker() {
    for (const tile of this.tiles.values()) {
      const speaking = tile.dataset.source === "camera" && tile.dataset.participant === this.call.activeSpeaker;
      tile.classList.toggle("speaking", speaking);
    }
  }

  openPanel(name) {
    const previous = this.panel;
    this.panel = name;
    $("side-panel").hidden = name === null;
    for (const [panel, id] of Object.entries(PANELS)) {
      $(`${panel}-panel`).hidden = name !== panel;
      $(id).setAttribute("aria-expanded", String(name === panel));
    }
    if (name === "chat") {
      this.unread = 0;
      $("chat-unread").hidden = true;
      $("chat-input").focus();
    } else if (name) {
      $(PANELS[name]).focus();
    } else if (previous && !$(PANELS[previous]).hidden) {
      $(PANELS[previous]).focus();
    }
  }

  sendChat() {
    const input = $("chat-input");
    const text = input.value.trim();
    if (!text) return;
    if (!this.call.sendChat(text)) {
      this.notify(t("meeting.state.reconnecting"), "error");
      return;
    }
    input.value = "";
    // Shown at once, greyed, until the hub's broadcast of it comes back.
    const self = this.call.self();
    const item = this.chatItem(self ? self.name : "", text, null);
    item.classList.add("pending");
    this.pendingChat.push({ text, item });
  }

  addChat(message) {
    if (message.participant_id === this.call.selfId) {
      const index = this.pendingChat.findIndex((entry) => entry.text === message.text);
      if (index >= 0) {
        const [{ item }] = this.pendingChat.splice(index, 1);
        item.classList.remove("pending");
        item.querySelector(".chat-meta").textContent = this.chatMeta(message.name, message.at);
        return;
      }
    }
    this.chatItem(message.name, message.text, message.at);
    if (this.panel !== "chat" && message.participant_id !== this.call.selfId) {
      this.unread += 1;
      const badge = $("chat-unread");
      badge.textContent = String(this.unread);
      badge.hidden = false;
      this.notify(t("meeting.chat.new", { name: message.name }));
    }
  }

  chatMeta(name, at) {
    const time = at ? new Date(at) : new Date();
    const clock = time.toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
    return `${name} · ${clock}`;
  }

  chatItem(name, text, at) {
    const item = element("li");
    item.append(element("span", "chat-meta", this.chatMeta(name, at)), element("span", "chat-text", text));
    $("chat-log").append(item);
    $("chat-empty").hidden = true;
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  /** A short polite announcement that fades; errors stay visible a little longer. */
  notify(text, kind = "info") {
    const box = $("notices");
    const note = element("p", kind === "error" ? "notice-error" : "", text);
    box.append(note);
    while (box.children.length > MAX_NOTICES) box.firstChild.remove();
    window.setTimeout(() => note.remove(), kind === "error" ? NOTICE_MS * 2 : NOTICE_MS);
  }
}
