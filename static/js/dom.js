// Small DOM helpers shared by the meeting page's views.

/** The element with this id (the page's views all look their nodes up this way). */
export const $ = (id) => document.getElementById(id);

/** A new element with an optional class and text (always as text, never as markup). */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A button of the given class and text, with `data-action`. */
export function actionButton(className, text, action) {
  const button = element("button", className, text);
  button.type = "button";
  button.dataset.action = action;
  return button;
}
