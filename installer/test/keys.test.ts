// Terminal input split into key presses, as a busy machine delivers them (several per read).
import { describe, expect, it } from 'vitest';
import { parseKeys } from '../src/ui/keys.js';

const names = (chunk: string): string[] =>
  parseKeys(chunk).map(({ input, key }) => {
    const flags = Object.entries(key)
      .filter(([, v]) => v)
      .map(([k]) => k)
      .join('+');
    return input ? `${flags ? `${flags}:` : ''}${input}` : flags;
  });

describe('parseKeys', () => {
  it('several Enters, arrows and tabs read at once are each a key', () => {
    expect(names('\r\r\r')).toEqual(['return', 'return', 'return']);
    expect(names('\u001b[B\u001b[B\u001b[A')).toEqual(['downArrow', 'downArrow', 'upArrow']);
    expect(names('\u001bOC\t\u001b[Z')).toEqual(['rightArrow', 'tab', 'shift+tab']);
  });

  it('typed text stays one piece up to the next key; CR LF is one Enter', () => {
    expect(names('example.org\r\n\r')).toEqual(['example.org', 'return', 'return']);
    expect(names('bücher\u007f\u007f')).toEqual(['bücher', 'backspace', 'backspace']);
    expect(names('A')).toEqual(['shift:A']);
  });

  it('Escape alone, Escape twice, Alt+key, Ctrl-C, Delete and modified arrows', () => {
    expect(names('\u001b')).toEqual(['escape+meta']);
    expect(names('\u001b\u001b')).toEqual(['escape+meta', 'escape+meta']);
    expect(names('\u001bx')).toEqual(['meta:x']);
    expect(names('\u0003')).toEqual(['ctrl:c']);
    expect(names('\u001b[3~')).toEqual(['delete']);
    expect(names('\u001b[1;5A')).toEqual(['upArrow+ctrl']);
  });

  it('an unknown escape sequence is swallowed whole, not typed into a field', () => {
    expect(names('\u001b[200~pasted\u001b[201~')).toEqual(['', 'pasted', '']);
    expect(names('\u001b[15~a')).toEqual(['', 'a']);
  });
});
