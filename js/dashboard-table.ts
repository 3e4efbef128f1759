// The dashboard's table: a header of sort buttons and one row per job set. Rows are rebuilt
// for a new page and replaced one at a time for an update, never the page for one change.
//
// Keyboard, as WAI-ARIA's data grid with the row as the unit of focus: the table is one tab stop
// (a roving tabindex on the rows, keyboard.ts) and every button has tabindex -1, so Tab goes
// past the table instead of stopping at up to 200 buttons. On a row: ArrowUp / ArrowDown move
// to the row above / below, Home / End to the first / last row, Enter or Space open the set,
// ArrowRight goes into the row's buttons. On a button: ArrowRight / ArrowLeft move along the
// row's enabled buttons (ArrowLeft from the first goes back to the row), ArrowUp / ArrowDown /
// Home / End move to a row as they do from a row, Enter or Space press it. Escape cancels the
// row's pending delete, else closes the opened set; with neither it goes on to the host.

import {
  COLUMNS,
  type DashboardSend,
  formatCreated,
  formatUsage,
  type Row,
  type RowAction,
  shortId,
  stateClass,
} from "./dashboard-model";
import { button, element } from "./dom";
import { navigateCells, targetIndex } from "./keyboard";

export type Table = {
  setRows(rows: Row[]): void;
  /** Replaces the rows of these ids that are shown; returns how many were. */
  updateRows(rows: Row[]): number;
  setSort(sort: string, descending: boolean, keys: string[]): void;
  setOpened(id: string): void;
  cleanup(): void;
};

const ACTIONS: ReadonlyArray<[RowAction, string]> = [
  ["open", "Open"],
  ["retry_failed", "Retry failed"],
  ["cancel", "Cancel"],
  ["delete", "Delete"],
];

function enabled(action: RowAction, row: Row): boolean {
  switch (action) {
    case "open":
      return true;
    case "retry_failed":
      // An interrupted set's unfinished chunks are lost once it is retrieved: retry runs them
      // (the kernel says which backends= to pass where it has none).
      return (
        !row.read_only &&
        (row.state.endsWith("failed") || row.state === "lost" || row.state === "interrupted")
      );
    case "cancel":
      return row.state === "running" && row.where !== "elsewhere";
    case "delete":
      return row.state !== "running";
  }
}

function chunkBar(row: Row): HTMLElement {
  const cell = element("div", "qjm-d-chunks");
  const bar = element("div", "qjm-d-bar");
  const fill = element("div", "qjm-d-fill");
  const share = row.chunks > 0 ? Math.min(1, row.final / row.chunks) : 0;
  fill.style.width = `${(100 * share).toFixed(1)}%`;
  bar.append(fill);
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", String(row.chunks));
  bar.setAttribute("aria-valuenow", String(row.final));
  cell.append(bar, element("span", "qjm-d-count", `${row.final} / ${row.chunks}`));
  return cell;
}

function rowElement(row: Row, index: number): HTMLTableRowElement {
  const tr = element("tr", `qjm-d-row qjm-d-${stateClass(row.state)}`);
  tr.dataset.id = row.id;
  tr.dataset.index = String(index);
  tr.setAttribute("tabindex", "-1");
  tr.setAttribute("aria-label", `${row.name}, ${row.state}, ${row.final} of ${row.chunks} chunks`);
  const name = element("td", "qjm-d-name", row.name);
  if (row.tags.length) {
    name.append(element("span", "qjm-d-tags", row.tags.join(", ")));
  }
  const id = element("td", "qjm-d-id", shortId(row.id));
  id.setAttribute("title", row.id);
  const state = element("td", "qjm-d-state", row.state);
  if (row.where === "elsewhere") {
    state.append(element("span", "qjm-d-where", "another process"));
  }
  const chunks = element("td", "qjm-d-chunks-cell");
  chunks.append(chunkBar(row));
  const actions = element("td", "qjm-d-actions");
  for (const [action, label] of ACTIONS) {
    const b = button(label, `qjm-d-${action.replace("_", "-")}`);
    b.dataset.action = action;
    b.disabled = !enabled(action, row);
    b.setAttribute("tabindex", "-1");
    // 50 rows of the same four words: the name says which set a button acts on.
    b.setAttribute("aria-label", `${label} ${row.name}`);
    actions.append(b);
  }
  const confirm = element("span", "qjm-d-confirm");
  confirm.hidden = true;
  const yes = button("Delete", "qjm-d-confirm-yes");
  yes.dataset.action = "confirm_delete";
  yes.disabled = false;
  yes.setAttribute("tabindex", "-1");
  yes.setAttribute("aria-label", `Yes, delete ${row.name}`);
  const no = button("Keep", "qjm-d-confirm-no");
  no.dataset.action = "keep";
  no.disabled = false;
  no.setAttribute("tabindex", "-1");
  no.setAttribute("aria-label", `Keep ${row.name}`);
  confirm.append(element("span", "qjm-d-confirm-text", "Delete this set?"), yes, no);
  actions.append(confirm, element("span", "qjm-d-message", row.message));
  tr.append(
    name,
    id,
    element("td", "qjm-d-backend", row.backend),
    element("td", "qjm-d-created", formatCreated(row.created)),
    state,
    chunks,
    element("td", "qjm-d-experiments", String(row.experiments)),
    element("td", "qjm-d-usage", formatUsage(row.usage)),
    actions,
  );
  return tr;
}

export function createTable(parent: HTMLElement, send: DashboardSend): Table {
  const table = element("table", "qjm-d-table");
  // A grid, so that a screen reader hands the arrow keys to the table rather than browsing.
  table.setAttribute("role", "grid");
  table.setAttribute("aria-label", "Job sets");
  const head = element("thead", "qjm-d-head");
  const headRow = element("tr", "qjm-d-head-row");
  const body = element("tbody", "qjm-d-body");
  head.append(headRow);
  table.append(head, body);
  parent.append(table);

  let rows: Row[] = [];
  let trs: HTMLTableRowElement[] = [];
  let sort = "created";
  let descending = true;
  let opened = "";
  const sortButtons = new Map<string, HTMLButtonElement>();

  for (const column of COLUMNS) {
    const th = element("th", "qjm-d-th");
    if (column.sort === null) {
      th.textContent = column.label;
    } else {
      const key = column.sort;
      const b = button(column.label, "qjm-d-sort");
      b.dataset.sort = key;
      b.disabled = false;
      b.addEventListener("click", () => {
        // The same column again flips the order; a new one starts descending (newest first).
        send({ type: "query", sort: key, descending: key === sort ? !descending : true });
      });
      sortButtons.set(key, b);
      th.append(b);
    }
    headRow.append(th);
  }

  const nav = navigateCells(body, {
    count: () => trs.length,
    cell: (index) => trs[index],
    indexOf: (target) =>
      target instanceof HTMLTableRowElement && target.parentElement === body
        ? Number(target.dataset.index)
        : null,
    columns: () => 1,
    onActivate: (index) => {
      const row = rows[index];
      if (row !== undefined) {
        send({ type: "open", id: row.id });
      }
    },
    onEscape: () => onEscapeKey(nav.active),
    onKey: (event, index) => {
      if (event.shiftKey) {
        return false;
      }
      if (event.key === "ArrowRight") {
        rowButtons(trs[index])[0]?.focus();
        return true;
      }
      return event.key === "ArrowLeft"; // already at the row's start: nothing to the left
    },
  });

  /** The row's buttons the keyboard can reach: enabled and shown, in the order shown. */
  function rowButtons(tr: HTMLElement | undefined): HTMLButtonElement[] {
    if (tr === undefined) {
      return [];
    }
    return [...tr.querySelectorAll<HTMLButtonElement>("button")].filter(
      (b) => !b.disabled && b.closest("[hidden]") === null,
    );
  }

  function confirmOf(tr: HTMLElement | undefined): HTMLElement | null {
    return tr?.querySelector<HTMLElement>(".qjm-d-confirm") ?? null;
  }

  function onEscapeKey(index: number): boolean {
    const tr = trs[index];
    const confirm = confirmOf(tr);
    if (tr !== undefined && confirm !== null && !confirm.hidden) {
      const inside = confirm.contains(tr.ownerDocument.activeElement);
      showConfirm(tr, false);
      if (inside) {
        tr.querySelector<HTMLButtonElement>(".qjm-d-delete")?.focus();
      }
      return true;
    }
    if (opened !== "") {
      send({ type: "close" });
      return true;
    }
    return false;
  }

  /** The row index of a row button, or null for anything else. */
  function buttonRow(target: EventTarget | null): number | null {
    if (!(target instanceof HTMLButtonElement)) {
      return null;
    }
    const tr = target.closest<HTMLTableRowElement>("tr.qjm-d-row");
    return tr !== null && tr.parentElement === body ? Number(tr.dataset.index) : null;
  }

  function onButtonKey(event: KeyboardEvent): void {
    const b = event.target;
    const index = buttonRow(b);
    if (!(b instanceof HTMLButtonElement) || index === null) {
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return; // Shift+Tab above all goes on to the browser
    }
    const along = rowButtons(trs[index]);
    const at = along.indexOf(b);
    let handled = true;
    switch (event.key) {
      case "ArrowRight":
        along[at + 1]?.focus();
        break;
      case "ArrowLeft":
        if (at > 0) {
          along[at - 1]?.focus();
        } else {
          nav.setActive(index, true);
        }
        break;
      case "ArrowUp":
      case "ArrowDown":
      case "Home":
      case "End": {
        const to = targetIndex(event.key, index, trs.length, 1);
        if (to !== null) {
          nav.setActive(to, true);
        }
        break;
      }
      case "Escape":
        handled = onEscapeKey(index);
        break;
      case "Enter":
      case " ":
        // The browser presses the button; only the notebook's own shortcut is kept off it.
        event.stopPropagation();
        return;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  function onButtonFocus(event: FocusEvent): void {
    // A button clicked or reached by the keyboard takes the table's tab stop to its row, so
    // Shift+Tab back into the table lands where the user was.
    const index = buttonRow(event.target);
    if (index !== null && index !== nav.active) {
      nav.setActive(index);
    }
  }

  function markOpened(): void {
    for (const tr of trs) {
      tr.classList.toggle("qjm-d-opened", tr.dataset.id === opened);
    }
  }

  function showConfirm(tr: HTMLElement, shown: boolean, focus = shown): void {
    const confirm = confirmOf(tr);
    if (confirm !== null) {
      confirm.hidden = !shown;
      if (focus) {
        confirm.querySelector<HTMLButtonElement>(".qjm-d-confirm-no")?.focus();
      }
    }
  }

  function onClick(event: MouseEvent): void {
    const target = event.target instanceof Element ? event.target : null;
    const b = target?.closest<HTMLButtonElement>("button[data-action]");
    const tr = b?.closest<HTMLTableRowElement>("tr.qjm-d-row");
    const id = tr?.dataset.id;
    if (b === null || b === undefined || tr === null || tr === undefined || id === undefined) {
      return;
    }
    const action = b.dataset.action;
    if (action === "delete") {
      showConfirm(tr, true); // asks first: only the confirm button sends
    } else if (action === "keep") {
      showConfirm(tr, false);
      tr.querySelector<HTMLButtonElement>(".qjm-d-delete")?.focus(); // not lost with the button
    } else if (action === "confirm_delete") {
      showConfirm(tr, false);
      tr.focus();
      send({ type: "delete", id });
    } else if (action === "open" || action === "retry_failed" || action === "cancel") {
      send({ type: action, id });
    }
  }
  body.addEventListener("click", onClick);
  body.addEventListener("keydown", onButtonKey);
  body.addEventListener("focusin", onButtonFocus);

  return {
    setRows(next: Row[]): void {
      const hadFocus = body.contains(body.ownerDocument.activeElement);
      rows = next;
      trs = next.map(rowElement);
      body.replaceChildren(...trs);
      markOpened();
      nav.refresh(hadFocus);
    },
    updateRows(changed: Row[]): number {
      let count = 0;
      for (const row of changed) {
        const index = rows.findIndex((shown) => shown.id === row.id);
        const old = trs[index];
        if (index < 0 || old === undefined) {
          continue;
        }
        const focused = old.ownerDocument.activeElement;
        const hadFocus = old.contains(focused);
        const focusedButton = buttonRow(focused) === index ? focused : null;
        const confirming = confirmOf(old)?.hidden === false;
        const tr = rowElement(row, index);
        tr.setAttribute("tabindex", old.getAttribute("tabindex") ?? "-1");
        tr.classList.toggle("qjm-d-opened", row.id === opened);
        old.replaceWith(tr);
        rows[index] = row;
        trs[index] = tr;
        if (confirming) {
          showConfirm(tr, true, false);
        }
        if (hadFocus) {
          // The same button of the new row where it can still be pressed, else the row.
          const same =
            focusedButton instanceof HTMLElement
              ? rowButtons(tr).find((b) => b.className === focusedButton.className)
              : undefined;
          (same ?? tr).focus();
        }
        count++;
      }
      return count;
    },
    setSort(nextSort: string, nextDescending: boolean, keys: string[]): void {
      sort = nextSort;
      descending = nextDescending;
      for (const [key, b] of sortButtons) {
        b.hidden = !keys.includes(key);
        const active = key === sort;
        b.classList.toggle("qjm-d-sorted", active);
        b.parentElement?.setAttribute(
          "aria-sort",
          active ? (descending ? "descending" : "ascending") : "none",
        );
        b.dataset.arrow = active ? (descending ? "▼" : "▲") : "";
      }
    },
    setOpened(id: string): void {
      opened = id;
      markOpened();
    },
    cleanup(): void {
      body.removeEventListener("click", onClick);
      body.removeEventListener("keydown", onButtonKey);
      body.removeEventListener("focusin", onButtonFocus);
      nav.cleanup();
    },
  };
}
