/** Where a command writes: its output, its messages, and whether both go to a terminal. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
}
