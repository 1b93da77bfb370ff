// Splitting terminal input into key presses. A terminal sends bytes, and a slow or busy machine
// reads several key presses in one chunk ("\r\r", "\x1b[B\x1b[B"); Ink's useInput treats a chunk
// as one key, so such presses were lost. Sequences: ECMA-48 control functions (CSI = ESC [ params
// final byte 0x40-0x7e, SS3 = ESC O x), xterm's cursor and editing keys.
import type { Key } from 'ink';

export interface KeyPress {
  input: string;
  key: Key;
}

function blank(): Key {
  return {
    upArrow: false,
    downArrow: false,
    leftArrow: false,
    rightArrow: false,
    pageDown: false,
    pageUp: false,
    return: false,
    escape: false,
    ctrl: false,
    shift: false,
    tab: false,
    backspace: false,
    delete: false,
    meta: false,
  };
}

function escapeSequence(seq: string): KeyPress {
  const key = blank();
  const final = seq[seq.length - 1];
  const csi = seq.startsWith('\u001b[');
  const ss3 = seq.startsWith('\u001bO');
  if (csi || ss3) {
    if (final === 'A') key.upArrow = true;
    else if (final === 'B') key.downArrow = true;
    else if (final === 'C') key.rightArrow = true;
    else if (final === 'D') key.leftArrow = true;
    else if (final === 'Z') {
      key.tab = true;
      key.shift = true;
    } else if (seq === '\u001b[3~') key.delete = true;
    else if (seq === '\u001b[5~') key.pageUp = true;
    else if (seq === '\u001b[6~') key.pageDown = true;
    // Modifiers (ESC [ 1 ; 5 A = Ctrl-Up): keep the arrow, note shift/ctrl.
    const mod = /;(\d+)[A-Z~]$/.exec(seq);
    if (mod) {
      const m = Number(mod[1]) - 1;
      key.shift = key.shift || (m & 1) !== 0;
      key.ctrl = (m & 4) !== 0;
    }
    return { input: '', key };
  }
  // ESC + one character: Alt/Meta + key.
  key.meta = true;
  return { input: seq.slice(1), key };
}

export function parseKeys(chunk: string): KeyPress[] {
  const out: KeyPress[] = [];
  let i = 0;
  while (i < chunk.length) {
    const c = chunk[i] as string;
    if (c === '\u001b') {
      const next = chunk[i + 1];
      if (next === undefined) {
        const key = blank();
        key.escape = true;
        key.meta = true;
        out.push({ input: '', key });
        i += 1;
      } else if (next === '[') {
        // CSI: parameter and intermediate bytes 0x20-0x3f, then one final byte 0x40-0x7e.
        let j = i + 2;
        while (j < chunk.length && (chunk.charCodeAt(j) < 0x40 || chunk.charCodeAt(j) > 0x7e)) j++;
        out.push(escapeSequence(chunk.slice(i, j + 1)));
        i = j + 1;
      } else if (next === 'O' && i + 2 < chunk.length) {
        out.push(escapeSequence(chunk.slice(i, i + 3)));
        i += 3;
      } else if (next === '\u001b') {
        // ESC ESC: one Escape, then look at the second again.
        const key = blank();
        key.escape = true;
        key.meta = true;
        out.push({ input: '', key });
        i += 1;
      } else {
        out.push(escapeSequence(chunk.slice(i, i + 2)));
        i += 2;
      }
      continue;
    }
    const code = chunk.charCodeAt(i);
    if (c === '\r' || c === '\n') {
      const key = blank();
      key.return = true;
      out.push({ input: '', key });
      // CR LF from a paste is one Enter.
      i += c === '\r' && chunk[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    if (c === '\t') {
      const key = blank();
      key.tab = true;
      out.push({ input: '', key });
      i += 1;
      continue;
    }
    if (c === '\u007f' || c === '\b') {
      const key = blank();
      key.backspace = true;
      out.push({ input: '', key });
      i += 1;
      continue;
    }
    if (code < 0x20) {
      // Ctrl + letter: 0x01 is Ctrl-A ... 0x1a Ctrl-Z (0x03 is Ctrl-C).
      const key = blank();
      key.ctrl = true;
      out.push({ input: String.fromCharCode(code + 0x60), key });
      i += 1;
      continue;
    }
    // Printable text (a paste arrives as one run): up to the next control character.
    let j = i;
    while (j < chunk.length && chunk.charCodeAt(j) >= 0x20 && chunk[j] !== '\u007f' && chunk[j] !== '\u001b') j++;
    const text = chunk.slice(i, j);
    const key = blank();
    if (text.length === 1 && /[A-Z]/.test(text)) key.shift = true;
    out.push({ input: text, key });
    i = j;
  }
  return out;
}
