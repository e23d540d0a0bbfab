import { Box } from '@mantine/core';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useImperativeHandle, useRef, type Ref } from 'react';

/** What a page does with its terminal: write what the device sent, give it the keyboard. */
export interface TerminalHandle {
  write(data: string): void;
  focus(): void;
  readonly cols: number;
  readonly rows: number;
}

export interface XtermViewProps {
  /** Named for assistive technology: "Terminal of web01", "Session 12, watched". */
  readonly label: string;
  readonly handle: Ref<TerminalHandle>;
  /** What the user typed; absent for a read-only terminal (watching). */
  readonly onData?: (data: string) => void;
  /** The terminal's size in characters after it was fitted to its box. */
  readonly onResize?: (cols: number, rows: number) => void;
  /** The box's height; the terminal fits it, and follows the window's size. */
  readonly height: string;
}

/** An xterm.js terminal that fills its box and refits whenever the box changes size. */
export function XtermView({ label, handle, onData, onResize, height }: XtermViewProps) {
  const box = useRef<HTMLDivElement>(null);
  const terminal = useRef<Terminal>(null);
  const callbacks = useRef({ onData, onResize });
  callbacks.current = { onData, onResize };

  useImperativeHandle(handle, () => ({
    write: (data) => terminal.current?.write(data),
    focus: () => terminal.current?.focus(),
    get cols() {
      return terminal.current?.cols ?? 80;
    },
    get rows() {
      return terminal.current?.rows ?? 24;
    },
  }));

  const readOnly = onData === undefined;
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const term = new Terminal({
      disableStdin: readOnly,
      cursorBlink: !readOnly,
      convertEol: false,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      screenReaderMode: false,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(element);
    terminal.current = term;
    term.textarea?.setAttribute('aria-label', readOnly ? `${label} (read-only)` : label);
    const typed = term.onData((data) => callbacks.current.onData?.(data));
    const resized = term.onResize(({ cols, rows }) => callbacks.current.onResize?.(cols, rows));
    const refit = () => {
      try {
        fit.fit();
      } catch {
        // A box not laid out yet (hidden): fitted on its next change of size.
      }
    };
    refit();
    const observer = new ResizeObserver(refit);
    observer.observe(element);
    return () => {
      observer.disconnect();
      typed.dispose();
      resized.dispose();
      term.dispose();
      terminal.current = null;
    };
  }, [label, readOnly]);

  return <Box ref={box} role="group" aria-label={label} h={height} bg="#000" p={4} style={{ borderRadius: 4, overflow: 'hidden' }} />;
}
