// Small keyboard-driven building blocks for the setup screens: a frame with the step title and
// key hints, text fields, choices, buttons, coloured marks, and focus movement between them.
import { Box, type Key, Text, useInput, useStdin } from 'ink';
import { parseKeys } from './keys.js';
import { type ReactNode, createContext, useCallback, useContext, useEffect, useLayoutEffect, useRef, useState } from 'react';

export const TOTAL_STEPS = 8;

export function Screen(props: { step: number; title: string; intro?: string; keys?: string; children?: ReactNode }): ReactNode {
  return (
    <Box flexDirection="column">
      <Text bold color="cyan">
        Roost setup · step {props.step} of {TOTAL_STEPS} · {props.title}
      </Text>
      {props.intro ? <Text>{props.intro}</Text> : null}
      <Box flexDirection="column" marginTop={1}>
        {props.children}
      </Box>
      <Box marginTop={1}>
        <Text dimColor>{props.keys ?? '↑/↓ move · Enter next · Esc back · Ctrl-C quit (nothing is changed before the Apply step)'}</Text>
      </Box>
    </Box>
  );
}

export type MarkKind = 'ok' | 'warn' | 'fail' | 'wait' | 'skip';

export function markOf(v: boolean | 'warn' | 'green' | 'red' | string): MarkKind {
  if (v === true || v === 'green' || v === 'ok') return 'ok';
  if (v === 'warn') return 'warn';
  if (v === 'running') return 'wait';
  if (v === 'skip') return 'skip';
  return 'fail';
}

export function Mark({ kind }: { kind: MarkKind }): ReactNode {
  switch (kind) {
    case 'ok':
      return <Text color="green">✔</Text>;
    case 'warn':
      return <Text color="yellow">!</Text>;
    case 'wait':
      return <Text color="cyan">…</Text>;
    case 'skip':
      return <Text dimColor>-</Text>;
    default:
      return <Text color="red">✘</Text>;
  }
}

/** A result line: mark, message, and (when not fine) the fix in plain words below it. */
export function ResultLine({ kind, text, fix }: { kind: MarkKind; text: string; fix?: string | undefined }): ReactNode {
  return (
    <Box flexDirection="column">
      <Text>
        <Mark kind={kind} /> {text}
      </Text>
      {fix && kind !== 'ok' ? <Text dimColor>{`    fix: ${fix}`}</Text> : null}
    </Box>
  );
}

export type Updater<T> = (f: (old: T) => T) => void;

export function TextField(props: { label: string; value: string; focused: boolean; mask?: boolean; hint?: string }): ReactNode {
  const shown = props.mask ? '•'.repeat(props.value.length) : props.value;
  return (
    <Box>
      <Text color={props.focused ? 'cyan' : undefined}>
        {props.focused ? '›' : ' '} {props.label}:{' '}
      </Text>
      <Text>{shown}</Text>
      {props.focused ? <Text inverse> </Text> : null}
      {!props.value && props.hint ? <Text dimColor> {props.hint.startsWith('(') ? props.hint : `(like ${props.hint})`}</Text> : null}
    </Box>
  );
}

export interface ChoiceOption<T extends string> {
  value: T;
  label: string;
}

export function Choice<T extends string>(props: { label: string; options: ChoiceOption<NoInfer<T>>[]; value: T; focused: boolean }): ReactNode {
  return (
    <Box>
      <Text color={props.focused ? 'cyan' : undefined}>
        {props.focused ? '›' : ' '} {props.label}:{' '}
      </Text>
      {props.options.map((o) => (
        <Text key={o.value} {...(o.value === props.value ? { inverse: props.focused, bold: true, color: 'green' } : { dimColor: true })}>
          {o.value === props.value ? `(•) ${o.label}` : `( ) ${o.label}`}
          {'  '}
        </Text>
      ))}
      {props.focused ? <Text dimColor>←/→ to change</Text> : null}
    </Box>
  );
}

/** The next option after `value` (dir 1) or before it (dir -1). */
export function cycle<T extends string>(options: readonly ChoiceOption<T>[] | readonly T[], value: T, dir: 1 | -1): T {
  const values = options.map((o) => (typeof o === 'string' ? o : o.value)) as T[];
  const i = Math.max(0, values.indexOf(value));
  return values[(i + dir + values.length) % values.length] as T;
}

export function Button(props: { label: string; focused: boolean }): ReactNode {
  return (
    <Text color={props.focused ? 'cyan' : undefined} bold={props.focused}>
      {props.focused ? '›' : ' '} [ {props.label} ]
    </Text>
  );
}

/** One focusable line of a form: what it does with the keys typed while it has the focus. */
export type FormItem =
  | { kind: 'text'; key: string; set: Updater<string> }
  | { kind: 'choice'; key: string; cycle(dir: 1 | -1): void }
  | { kind: 'button'; key: string; press(): void };

const isPrintable = (input: string, key: Key): boolean =>
  input !== '' && !key.ctrl && !key.meta && !key.return && !key.tab && !key.escape && !key.upArrow && !key.downArrow && !key.leftArrow && !key.rightArrow;

/**
 * A form's keyboard: ↑/↓ and Tab move the focus, typing edits the focused text field, ←/→ or
 * Space change a choice, Enter presses a button or moves on (and submits on the last item), Esc
 * goes back. One input handler reads the latest items and focus from refs: Ink re-subscribes
 * handlers after each render, and keys typed before that must still reach the right field.
 */
export function useForm(opts: { items: FormItem[]; onSubmit(): void; onBack?(): void; active?: boolean; onKey?(input: string, key: Key): boolean }): string {
  const [index, setIndex] = useState(0);
  const ref = useRef({ opts, index });
  ref.current.opts = opts;
  const clamp = (i: number): number => Math.max(0, Math.min(opts.items.length - 1, i));
  if (ref.current.index > opts.items.length - 1) ref.current.index = clamp(ref.current.index);
  useKeys((input, key) => {
    const { opts: o } = ref.current;
    if (o.active === false) return;
    const move = (to: number): void => {
      ref.current.index = Math.max(0, Math.min(o.items.length - 1, to));
      setIndex(ref.current.index);
    };
    const i = ref.current.index;
    const item = o.items[i];
    if (key.upArrow || (key.tab && key.shift)) return move(i - 1);
    if (key.downArrow || key.tab) return move(i + 1);
    if (key.escape) return o.onBack?.();
    if (key.return) {
      if (item?.kind === 'button') return item.press();
      if (i >= o.items.length - 1) return o.onSubmit();
      return move(i + 1);
    }
    if (item?.kind === 'text') {
      if (key.backspace || key.delete) return item.set((v) => v.slice(0, -1));
      if (isPrintable(input, key)) {
        // Pasted text arrives in one piece; line breaks and control characters never belong in a field.
        const clean = input.replace(/[\u0000-\u001f\u007f]/g, '');
        if (clean) item.set((v) => v + clean);
        return;
      }
    }
    if (item?.kind === 'choice' && (key.rightArrow || key.leftArrow || input === ' ')) return item.cycle(key.leftArrow ? -1 : 1);
    o.onKey?.(input, key);
  });
  return opts.items[clamp(ref.current.index)]?.key ?? '';
}

type KeyHandler = (input: string, key: Key) => void;

/**
 * Key routing for the whole app: one Ink input handler (KeyRouter) that is always subscribed,
 * and screens' handlers registered while they render. Ink subscribes a useInput handler in an
 * effect after the screen appears, so keys typed right after a screen change were lost.
 */
const KeyRoutes = createContext<Map<object, { current: KeyHandler }> | null>(null);

export function KeyRouter({ children }: { children?: ReactNode }): ReactNode {
  const routes = useRef(new Map<object, { current: KeyHandler }>()).current;
  const { setRawMode, internal_eventEmitter: events } = useStdin();
  useEffect(() => {
    setRawMode(true);
    // Raw chunks, split into key presses here (see keys.ts): a busy machine delivers several at once.
    const onChunk = (chunk: string | Buffer): void => {
      for (const { input, key } of parseKeys(String(chunk))) for (const h of [...routes.values()]) h.current(input, key);
    };
    events?.on('input', onChunk);
    return () => {
      events?.removeListener('input', onChunk);
      setRawMode(false);
    };
  }, [events, routes, setRawMode]);
  return <KeyRoutes.Provider value={routes}>{children}</KeyRoutes.Provider>;
}

/** A screen's single key handler, always seeing the latest props and state. */
export function useKeys(handler: KeyHandler): void {
  const ref = useRef(handler);
  ref.current = handler;
  const routes = useContext(KeyRoutes);
  const id = useRef({}).current;
  // Registered during render, so it gets keys as soon as the screen is there; removed in a
  // layout effect, so an unmounted screen never sees another key.
  if (routes && !routes.has(id)) routes.set(id, ref);
  useLayoutEffect(() => () => void routes?.delete(id), [routes, id]);
  useInput((input, key) => ref.current(input, key), { isActive: routes === null });
}

export function Errors({ errors }: { errors: string[] }): ReactNode {
  if (!errors.length) return null;
  return (
    <Box flexDirection="column" marginTop={1}>
      {errors.map((e) => (
        <Text key={e} color="red">
          ✘ {e}
        </Text>
      ))}
    </Box>
  );
}

export function Help({ text, example }: { text: string; example?: string }): ReactNode {
  return (
    <Box flexDirection="column" marginBottom={1}>
      <Text>{text}</Text>
      {example ? <Text dimColor>{example}</Text> : null}
    </Box>
  );
}

/**
 * State whose latest value is readable at once through the ref: a key handler may run before
 * React re-renders with the previous key's change (fast typing, pasting, a loaded machine).
 */
export function useLiveState<T>(initial: T | (() => T)): [T, (f: (old: T) => T) => void, { readonly current: T }] {
  const [value, setValue] = useState(initial);
  const ref = useRef(value);
  const set = useCallback((f: (old: T) => T) => {
    ref.current = f(ref.current);
    setValue(ref.current);
  }, []);
  return [value, set, ref];
}

/** Updaters for one key of a live object state (text fields). */
export function fieldOf<T extends Record<string, unknown>, K extends keyof T & string>(set: (f: (old: T) => T) => void, k: K): Updater<T[K]> {
  return (f) => set((s) => ({ ...s, [k]: f(s[k]) }));
}
