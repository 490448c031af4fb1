/**
 * The few browser types the admin page script uses. The project compiles server and page with one
 * tsconfig; adding the DOM lib there would leak browser globals (and a second `fetch` typing) into
 * server code, so the page declares what it touches here, module-scoped, and stays type-checked.
 */
export interface Ev {
  preventDefault(): void;
}

export interface MessageEv extends Ev {
  data: string;
}

export interface El {
  id: string;
  hidden: boolean;
  textContent: string | null;
  className: string;
  value: string;
  disabled: boolean;
  src: string;
  alt: string;
  readonly dataset: Record<string, string | undefined>;
  readonly classList: { add(...names: string[]): void; remove(...names: string[]): void; toggle(name: string, force?: boolean): boolean };
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  append(...nodes: (El | string)[]): void;
  replaceChildren(...nodes: (El | string)[]): void;
  addEventListener(type: string, listener: (event: Ev) => void): void;
  focus(): void;
  select(): void;
  reset(): void;
}

export interface DocumentLike {
  title: string;
  readonly visibilityState: string;
  getElementById(id: string): El | null;
  createElement(tag: string): El;
  addEventListener(type: string, listener: (event: Ev) => void): void;
}

export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: MessageEv) => void): void;
  close(): void;
  onopen: (() => void) | null;
  onerror: (() => void) | null;
}

export interface EventSourceConstructor {
  new (url: string): EventSourceLike;
}

export interface ClipboardLike {
  writeText(text: string): Promise<void>;
}
