/** The change listeners of a view: attached together, detached together, once. */

/** The part of an anywidget model that change listeners use. */
export type Listenable<E extends string> = {
  on(event: E, callback: () => void): void;
  off(event: E, callback: () => void): void;
};

/**
 * Attach every `[event, callback]` pair to `model`; the returned function detaches them all and
 * then runs `cleanup`, the first time it is called only (anywidget may call a view's cleanup
 * more than once).
 */
export function listen<E extends string>(
  model: Listenable<E>,
  listeners: ReadonlyArray<readonly [E, () => void]>,
  cleanup: () => void,
): () => void {
  for (const [event, callback] of listeners) {
    model.on(event, callback);
  }
  let cleaned = false;
  return () => {
    if (cleaned) {
      return;
    }
    cleaned = true;
    for (const [event, callback] of listeners) {
      model.off(event, callback);
    }
    cleanup();
  };
}
