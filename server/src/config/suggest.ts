// "Did you mean" for misspelt keys and values: optimal string alignment distance (Levenshtein
// plus swapping two neighbours, the commonest typo: "prot" for "port"), compared after folding
// case, '_' and '-' so that max_file_size finds maxFileSize.

export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

const fold = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');

/** The candidate closest to `word`, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = fold(word);
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, fold(c));
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  // One edit per three letters: "prot"→"port" (1) yes, "foo"→"port" no.
  const allowed = Math.max(1, Math.floor(w.length / 3));
  return best !== undefined && bestD <= allowed ? best : undefined;
}
