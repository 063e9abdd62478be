// Reactions: a small fixed set of emoji, sent to everyone and shown a few seconds over the
// sender's tile (and said politely to screen readers). The hub accepts only this set.

import { t } from "./i18n.js";
import { $, element } from "./dom.js";

export const EMOJI = ["👍", "👏", "😂", "😮", "❤️", "🎉"];
const SHOW_MS = 4000;

export class Reactions {
  /**
   * @param {object} options
   * @param {import("./call.js").Call} options.call
   * @param {(text: string, kind?: string) => void} options.notify
   */
  constructor({ call, notify }) {
    this.call = call;
    this.menu = $("reactions-menu");
    this.toggle = $("toggle-reactions");
    for (const emoji of EMOJI) {
      const choice = element("button", "reaction-choice", emoji);
      choice.type = "button";
      choice.setAttribute("aria-label", t("meeting.reaction.send", { emoji }));
      choice.addEventListener("click", () => {
        if (!call.send({ type: "reaction", emoji })) notify(t("meeting.moderation.not_sent"), "error");
        this.open(false);
        this.toggle.focus();
      });
      this.menu.append(choice);
    }
    this.toggle.addEventListener("click", () => this.open(this.menu.hidden));
    this.menu.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      this.open(false);
      this.toggle.focus();
    });
    call.on("reaction", (message) => this.show(message));
  }

  open(open) {
    this.menu.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) this.menu.firstChild.focus();
  }

  show({ participant_id: id, emoji }) {
    const participant = this.call.participants.get(id);
    if (!participant || !EMOJI.includes(emoji)) return;
    const tile = document.querySelector(`#grid > li[data-participant="${CSS.escape(id)}"][data-source="camera"]`);
    if (tile) {
      const bubble = element("span", "reaction-bubble", emoji);
      bubble.setAttribute("aria-hidden", "true");
      tile.append(bubble);
      window.setTimeout(() => bubble.remove(), SHOW_MS);
    }
    if (!participant.isSelf) $("reaction-said").textContent = t("meeting.reaction.from", { name: participant.name, emoji });
  }
}
