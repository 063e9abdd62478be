// The participant list of the side panel: one row per participant with their role and state,
// and, for moderators, a disclosure of actions per participant (mute, remove, role). Rows are
// kept between renders, so a keyboard user's focus survives the roster's frequent updates.

import { t } from "./i18n.js";
import { $, actionButton, element } from "./dom.js";


/** The visible role label of a participant; none for plain participants. */
export function roleLabel(role) {
  return role === "owner" || role === "moderator" ? t(`meeting.role.${role}`) : "";
}

/** The state badges shared by the list and the video tiles. */
export function stateBadges(participant, turn = 0) {
  const badges = [];
  if (!participant.audio) badges.push(element("span", "badge", t("meeting.status.muted")));
  if (participant.hand) {
    const text = turn ? t("meeting.status.hand_turn", { turn }) : t("meeting.status.hand");
    badges.push(element("span", "badge badge-hand", text));
  }
  if (participant.reconnecting) badges.push(element("span", "badge badge-reconnecting", t("meeting.status.reconnecting")));
  return badges;
}

export class ParticipantList {
  /**
   * @param {object} options
   * @param {import("./call.js").Call} options.call
   * @param {(text: string, kind?: string) => void} options.notify
   */
  constructor({ call, notify }) {
    this.call = call;
    this.notify = notify;
    this.list = $("participant-list");
    this.rows = new Map(); // participant id -> {item, main, actions}
    this.open = null; // id of the participant whose actions are shown
    this.turn = new Map();
    $("lower-hands").addEventListener("click", () => {
      if (!this.call.lowerHands()) this.notify(t("meeting.moderation.not_sent"), "error");
    });
  }

  /** Raised hands first, in the order they went up (the hub numbers them); then the rest. */
  ordered() {
    const all = [...this.call.participants.values()];
    const raised = all.filter((p) => p.hand).sort((a, b) => a.handOrder - b.handOrder);
    return [...raised, ...all.filter((p) => !p.hand)];
  }

  /** Each raised hand's turn: 1 for the first up. */
  turns() {
    return new Map(this.ordered().filter((p) => p.hand).map((p, index) => [p.id, index + 1]));
  }

  render() {
    const participants = this.ordered();
    this.turn = this.turns();
    const lower = $("lower-hands");
    lower.hidden = !this.call.isModerator || this.turn.size === 0;
    const wanted = new Set(participants.map((participant) => participant.id));
    let lostFocus = false;
    for (const [id, row] of this.rows) {
      if (wanted.has(id)) continue;
      lostFocus ||= row.item.contains(document.activeElement);
      row.item.remove();
      this.rows.delete(id);
      if (this.open === id) this.open = null;
    }
    const items = participants.map((participant) => this.renderRow(participant));
    // Re-append only when the order changed: moving a node takes the focus out of it.
    const current = [...this.list.children];
    if (items.length !== current.length || items.some((item, index) => item !== current[index])) {
      this.list.replaceChildren(...items);
    }
    if (lostFocus) $("participants-heading").focus();
    $("participant-count").textContent = String(participants.length);
    $("participants-heading").textContent = t("meeting.participants.heading", { count: participants.length });
  }

  renderRow(participant) {
    let row = this.rows.get(participant.id);
    if (!row) {
      const item = element("li");
      item.dataset.participant = participant.id;
      const main = element("div", "participant-main");
      item.append(main);
      row = { item, main, actions: null };
      this.rows.set(participant.id, row);
    }
    const name = participant.isSelf ? t("meeting.you", { name: participant.name }) : participant.name;
    const parts = [element("span", "participant-name", name)];
    const role = roleLabel(participant.role);
    if (role) parts.push(element("span", "role-label", role));
    if (!participant.video) parts.push(element("span", "badge", t("meeting.status.camera_off")));
    if (participant.screen) parts.push(element("span", "badge", t("meeting.status.screen")));
    parts.push(...stateBadges(participant, this.turn.get(participant.id)));
    row.main.replaceChildren(...parts);
    this.renderActions(row, participant);
    return row.item;
  }

  /** Moderators act on everyone but themselves and the owner. */
  canModerate(participant) {
    return this.call.isModerator && !participant.isSelf && participant.role !== "owner";
  }

  renderActions(row, participant) {
    if (!this.canModerate(participant)) {
      if (row.actions) {
        const hadFocus = row.actions.root.contains(document.activeElement);
        row.actions.root.remove();
        row.actions = null;
        if (hadFocus) $("participants-heading").focus();
      }
      return;
    }
    if (!row.actions) row.actions = this.buildActions(participant.id);
    const { root, toggle, group, buttons } = row.actions;
    if (!root.isConnected) row.item.append(root);
    const label = t("meeting.moderation.actions_for", { name: participant.name });
    toggle.setAttribute("aria-label", label);
    group.setAttribute("aria-label", label);
    const open = this.open === participant.id;
    toggle.setAttribute("aria-expanded", String(open));
    group.hidden = !open;
    buttons.muteAudio.hidden = !participant.audio;
    buttons.lowerHand.hidden = !participant.hand;
    buttons.muteVideo.hidden = !participant.video;
    const moderator = participant.role === "moderator";
    // Only the owner removes another moderator or changes their role (the hub checks it too).
    const mayManage = !moderator || this.call.role === "owner";
    buttons.remove.hidden = !mayManage;
    buttons.role.hidden = !mayManage;
    buttons.role.textContent = t(moderator ? "meeting.moderation.revoke_moderator" : "meeting.moderation.make_moderator");
    buttons.role.dataset.action = moderator ? "revoke-moderator" : "make-moderator";
    // Nothing left to do (another moderator with microphone and camera off): no empty menu.
    root.hidden = Object.values(buttons).every((button) => button.hidden);
  }

  buildActions(id) {
    const root = element("div", "participant-actions");
    const groupId = `actions-${id}`;
    const toggle = actionButton("button button-small", t("meeting.moderation.actions"), "menu");
    toggle.setAttribute("aria-controls", groupId);
    const group = element("div", "action-group");
    group.id = groupId;
    group.setAttribute("role", "group");
    group.hidden = true;
    const button = (action, key) => {
      const node = actionButton("button button-small", t(key), action);
      group.append(node);
      return node;
    };
    const buttons = {
      lowerHand: button("lower-hand", "meeting.moderation.lower_hand"),
      muteAudio: button("mute-audio", "meeting.moderation.mute_audio"),
      muteVideo: button("mute-video", "meeting.moderation.mute_video"),
      role: button("make-moderator", "meeting.moderation.make_moderator"),
      remove: button("remove", "meeting.moderation.remove"),
    };
    buttons.remove.classList.add("button-danger");
    root.append(toggle, group);
    toggle.addEventListener("click", () => this.setOpen(this.open === id ? null : id));
    group.addEventListener("click", (event) => {
      const target = event.target.closest("button[data-action]");
      if (target) this.act(id, target.dataset.action);
    });
    root.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || this.open !== id) return;
      event.preventDefault();
      this.setOpen(null);
      toggle.focus();
    });
    return { root, toggle, group, buttons };
  }

  setOpen(id) {
    this.open = id;
    this.render();
  }

  act(id, action) {
    const participant = this.call.participants.get(id);
    if (!participant) return;
    let sent;
    switch (action) {
      case "lower-hand": sent = this.call.lowerHands(id); break;
      case "mute-audio": sent = this.call.muteParticipant(id, "audio"); break;
      case "mute-video": sent = this.call.muteParticipant(id, "video"); break;
      case "make-moderator": sent = this.call.setRole(id, "moderator"); break;
      case "revoke-moderator": sent = this.call.setRole(id, "participant"); break;
      case "remove":
        if (!window.confirm(t("meeting.moderation.remove_confirm", { name: participant.name }))) return;
        sent = this.call.removeFromMeeting(id);
        break;
      default: return;
    }
    if (!sent) this.notify(t("meeting.moderation.not_sent"), "error");
    // The hub's answer (participant_updated / participant_left) updates the row; meanwhile
    // the actions close and the focus goes back to where they were opened.
    this.setOpen(null);
    const row = this.rows.get(id);
    if (row && row.actions) row.actions.toggle.focus();
  }
}
