// The anywidget module of qjm_widget.dashboard.DashboardTable: a toolbar (filters, pager), the
// table of job sets, and the kernel's messages. The view never sets a trait; it sends messages
// (DashboardMessage in dashboard-model.ts).
import type { AnyWidget, RenderProps } from "@anywidget/types";
import {
  type DashboardMessage,
  type DashboardModel,
  type DashboardSend,
  rowsOf,
} from "./dashboard-model";
import { createTable } from "./dashboard-table";
import { button, element } from "./dom";
import { listen } from "./listen";

/** Typing in a filter sends one query once the typing pauses this long. */
export const FILTER_DELAY_MS = 300;

type ChangeEvent = `change:${keyof DashboardModel}`;

function filterInput(label: string, className: string): HTMLInputElement {
  const input = document.createElement("input");
  input.type = "search";
  input.className = className;
  input.placeholder = label;
  input.setAttribute("aria-label", label);
  return input;
}

let views = 0;

/** How often a shown view says so again (VIEW_HEARTBEAT_S in qjm_widget/dashboard_views.py):
 * a reloaded page never says its views were removed, so the kernel forgets a silent view. */
export const VIEW_HEARTBEAT_MS = 10_000;

function render({ model, el }: Pick<RenderProps<DashboardModel>, "model" | "el">): () => void {
  const root = element("div", "qjm-dashboard");
  el.append(root);
  const send: DashboardSend = (message: DashboardMessage) => model.send(message);
  // Unique among this page's views and those of other pages (a reload never says goodbye).
  const view = `${(++views).toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

  const toolbar = element("div", "qjm-d-toolbar");
  const nameInput = filterInput("Filter by name", "qjm-d-filter-name");
  const tagInput = filterInput("Filter by tag", "qjm-d-filter-tag");
  const prev = button("‹ Newer", "qjm-d-prev");
  const next = button("Older ›", "qjm-d-next");
  const pageLabel = element("span", "qjm-d-page");
  const total = element("span", "qjm-d-total");
  const close = button("Close set", "qjm-d-close");
  toolbar.append(nameInput, tagInput, prev, pageLabel, next, total, close);
  const message = element("div", "qjm-d-message-bar");
  message.setAttribute("role", "status");
  root.append(toolbar, message);
  const table = createTable(root, send);
  const empty = element("div", "qjm-d-empty", "No job sets.");
  root.append(empty);

  let timer: ReturnType<typeof setTimeout> | undefined;
  function sendFilters(): void {
    clearTimeout(timer);
    timer = undefined;
    send({ type: "query", name: nameInput.value, tag: tagInput.value, page: 0 });
  }
  function onFilterInput(): void {
    clearTimeout(timer);
    timer = setTimeout(sendFilters, FILTER_DELAY_MS);
  }
  function onFilterKey(event: KeyboardEvent): void {
    if (event.key === "Enter") {
      sendFilters();
    }
  }
  for (const input of [nameInput, tagInput]) {
    input.addEventListener("input", onFilterInput);
    input.addEventListener("keydown", onFilterKey);
  }
  const page = (): number => model.get("page") ?? 0;
  const onPrev = (): void => send({ type: "query", page: page() - 1 });
  const onNext = (): void => send({ type: "query", page: page() + 1 });
  const onClose = (): void => send({ type: "close" });
  prev.addEventListener("click", onPrev);
  next.addEventListener("click", onNext);
  close.addEventListener("click", onClose);

  function onRows(): void {
    const rows = rowsOf(model.get("rows"));
    table.setRows(rows);
    empty.hidden = rows.length > 0;
    onUpdates(); // a view made after updates were sent starts from the latest ones too
  }

  function onUpdates(): void {
    const updates = model.get("updates");
    table.updateRows(rowsOf(updates?.rows));
  }

  function onPaging(): void {
    const count = model.get("total") ?? 0;
    const size = Math.max(1, model.get("page_size") ?? 50);
    const pages = Math.max(1, Math.ceil(count / size));
    pageLabel.textContent = `page ${page() + 1} of ${pages}`;
    total.textContent = `${count} ${count === 1 ? "set" : "sets"}`;
    prev.disabled = page() <= 0;
    next.disabled = page() + 1 >= pages;
  }

  function onSort(): void {
    table.setSort(
      model.get("sort") ?? "created",
      model.get("descending") !== false,
      model.get("sort_keys") ?? [],
    );
  }

  function onFilters(): void {
    // Never overwrite what the user is typing (a query of theirs is on its way).
    if (timer === undefined && document.activeElement !== nameInput) {
      nameInput.value = model.get("name_filter") ?? "";
    }
    if (timer === undefined && document.activeElement !== tagInput) {
      tagInput.value = model.get("tag_filter") ?? "";
    }
  }

  function onOpened(): void {
    const opened = model.get("opened") ?? "";
    table.setOpened(opened);
    close.disabled = opened === "";
  }

  function onMessage(): void {
    const text = model.get("message") ?? "";
    message.textContent = text;
    message.hidden = text === "";
  }

  const listeners: Array<[ChangeEvent, () => void]> = [
    ["change:rows", onRows],
    ["change:updates", onUpdates],
    ["change:total", onPaging],
    ["change:page", onPaging],
    ["change:page_size", onPaging],
    ["change:sort", onSort],
    ["change:descending", onSort],
    ["change:sort_keys", onSort],
    ["change:name_filter", onFilters],
    ["change:tag_filter", onFilters],
    ["change:opened", onOpened],
    ["change:message", onMessage],
  ];
  onRows();
  onPaging();
  onSort();
  onFilters();
  onOpened();
  onMessage();
  send({ type: "views", view, shown: true });
  const heartbeat = setInterval(
    () => send({ type: "views", view, shown: true }),
    VIEW_HEARTBEAT_MS,
  );
  return listen(model, listeners, () => {
    clearTimeout(timer);
    clearInterval(heartbeat);
    table.cleanup();
    send({ type: "views", view, shown: false });
  });
}

export default { render } satisfies AnyWidget<DashboardModel>;
