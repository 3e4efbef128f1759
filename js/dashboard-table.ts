// The dashboard's table: a header of sort buttons and one row per job set. Rows are rebuilt
// for a new page and replaced one at a time for an update, never the page for one change.
// Keyboard: the rows share one tab stop (keyboard.ts); arrows move, Enter opens the set.

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
import { navigateCells } from "./keyboard";

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
  tr.setAttribute("aria-label", `${row.name}, ${row.state}`);
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
    actions.append(b);
  }
  const confirm = element("span", "qjm-d-confirm");
  confirm.hidden = true;
  const yes = button("Delete", "qjm-d-confirm-yes");
  yes.dataset.action = "confirm_delete";
  yes.disabled = false;
  const no = button("Keep", "qjm-d-confirm-no");
  no.dataset.action = "keep";
  no.disabled = false;
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
    onEscape: () => false,
  });

  function markOpened(): void {
    for (const tr of trs) {
      tr.classList.toggle("qjm-d-opened", tr.dataset.id === opened);
    }
  }

  function showConfirm(tr: HTMLElement, shown: boolean): void {
    const confirm = tr.querySelector<HTMLElement>(".qjm-d-confirm");
    if (confirm !== null) {
      confirm.hidden = !shown;
      if (shown) {
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
    } else if (action === "confirm_delete") {
      showConfirm(tr, false);
      send({ type: "delete", id });
    } else if (action === "open" || action === "retry_failed" || action === "cancel") {
      send({ type: action, id });
    }
  }
  body.addEventListener("click", onClick);

  return {
    setRows(next: Row[]): void {
      const hadFocus = nav.hasFocus();
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
        const hadFocus = old.contains(old.ownerDocument.activeElement);
        const confirming = old.querySelector<HTMLElement>(".qjm-d-confirm")?.hidden === false;
        const tr = rowElement(row, index);
        tr.setAttribute("tabindex", old.getAttribute("tabindex") ?? "-1");
        tr.classList.toggle("qjm-d-opened", row.id === opened);
        old.replaceWith(tr);
        rows[index] = row;
        trs[index] = tr;
        if (confirming) {
          showConfirm(tr, true);
        } else if (hadFocus) {
          tr.focus();
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
      nav.cleanup();
    },
  };
}
