// Reading a password for `roost user add|passwd`: from a flag, from piped stdin (first line), or
// typed twice at a prompt that does not echo.
import { createInterface } from 'node:readline';

export async function readPassword(io: { stdin: NodeJS.ReadStream; stderr: NodeJS.WriteStream }, confirm: boolean): Promise<string> {
  if (!io.stdin.isTTY) return firstLine(io.stdin);
  const first = await prompt(io, 'Password: ');
  if (!confirm) return first;
  const second = await prompt(io, 'Password again: ');
  if (first !== second) throw new Error('the two passwords differ');
  return first;
}

/**
 * The first line of piped input, without waiting for the end of the input: a program that
 * writes the password and keeps the pipe open (an installer, an expect script) must not hang us.
 */
function firstLine(stdin: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.off('end', finish);
      stdin.off('error', onError);
      stdin.pause();
      // Closes our end (stdin is not a TTY here), so an open pipe keeps nothing alive.
      stdin.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      resolve(text.split(/\r?\n/)[0] ?? '');
    };
    const onData = (c: Buffer | string): void => {
      const b = Buffer.from(c);
      chunks.push(b);
      if (b.includes(0x0a)) finish();
    };
    const onError = (e: Error): void => reject(e);
    stdin.on('data', onData);
    stdin.on('end', finish);
    stdin.on('error', onError);
  });
}

function prompt(io: { stdin: NodeJS.ReadStream; stderr: NodeJS.WriteStream }, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
    // Hide what is typed: readline echoes through _writeToOutput, which is replaced here.
    const writer = rl as unknown as { _writeToOutput: (s: string) => void };
    let asked = false;
    writer._writeToOutput = (s: string) => {
      if (!asked) {
        io.stderr.write(s);
        asked = true;
      }
    };
    rl.question(question, (answer) => {
      io.stderr.write('\n');
      rl.close();
      resolve(answer);
    });
    rl.on('SIGINT', () => {
      rl.close();
      reject(new Error('cancelled'));
    });
  });
}
