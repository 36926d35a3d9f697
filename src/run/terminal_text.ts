// Text for a terminal of a given width, shared by atari's live line and the sweep's live view. A live line is
// redrawn in place, so it must never wrap (a wrapped line scrolls the screen at every redraw): its fields are
// shortened, then the least useful dropped, until it fits (fitFields). A permanent line (a run header, a resume hint)
// is broken at words with a hanging indent instead (wrapWords): the terminal would break it mid-word.

/**
 * One field of a live line: its texts, longest first, and the rank at which each shorter text replaces the one
 * before it (`shortenAt`: one rank for all, or one each) and at which the field is dropped (`dropAt`; Infinity:
 * never). Across the fields, lower ranks are applied first.
 */
export interface Field {
  forms: readonly string[];
  shortenAt?: number | readonly number[];
  dropAt: number;
}

/**
 * The fields in at most `width` characters: the shortenings and drops of all fields are taken in the order of their
 * ranks until the line fits; then those taken are undone, last first, wherever the line still fits without them
 * (a field dropped may leave room for another's longer text), except that a field never returns while one dropped
 * after it stays out. A line that still does not fit (its fields that are
 * never dropped are too long) is cut, ending in "…".
 */
export function fitFields(fields: readonly Field[], width: number, join = (parts: string[]) => parts.join(' | ')): string {
  const level = fields.map(() => 0);
  const kept = fields.map(() => true);
  const text = () => join(fields.flatMap((f, i) => (kept[i] ? [f.forms[level[i]]] : [])));
  type Step = { rank: number; field: number; to: number | 'drop' };
  const steps: Step[] = fields.flatMap((f, field) => [
    ...f.forms.slice(1).map((_, j) => ({ rank: typeof f.shortenAt === 'number' ? f.shortenAt : (f.shortenAt?.[j] ?? 0), field, to: j + 1 })),
    ...(Number.isFinite(f.dropAt) ? [{ rank: f.dropAt, field, to: 'drop' as const }] : []),
  ]);
  steps.sort((a, b) => a.rank - b.rank); // stable: a field's forms stay in order
  const taken: Step[] = [];
  for (const step of steps) {
    if (text().length <= width) break;
    if (step.to === 'drop') kept[step.field] = false;
    else level[step.field] = step.to;
    taken.push(step);
  }
  // A field dropped comes back only while every field dropped after it has: never a lesser field without a greater.
  let blocked = false;
  for (const step of taken.reverse()) {
    const { field } = step;
    if (step.to === 'drop') {
      if (blocked) continue;
      kept[field] = true;
      if (text().length > width) kept[field] = false;
      blocked = !kept[field];
    } else if (level[field] === step.to) {
      level[field] = step.to - 1;
      if (text().length > width) level[field] = step.to;
    }
  }
  const line = text();
  return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
}

/** A step count in 4 characters or fewer, for a narrow line: 950, 7.5k, 125k, 2.9M, 50M. */
export function compactCount(n: number): string {
  const short = (x: number) => (x < 10 ? x.toFixed(1).replace(/\.0$/, '') : String(Math.round(x)));
  if (n < 1000) return String(n);
  if (n < 999_500) return `${short(n / 1e3)}k`;
  return `${short(n / 1e6)}M`;
}

/**
 * The units a permanent line may be broken between: words, except that a command to paste (from `npm run` to the
 * end of the line, an unquoted ")" or ";", or a " (" that opens a remark) is one unit, so that a copied command is
 * never split over two lines.
 */
const UNITS = /npm run(?:'[^']*'|\\.|[^\s'\\);]| (?=[^\s()]))*|\S+/g;

/**
 * `text` broken at words into lines of at most `width` characters, each continuation indented 2 more than its line's
 * own indent. A unit longer than the room (a long path or command) stands alone on its line, unbroken.
 */
export function wrapWords(text: string, width: number): string {
  return text
    .split('\n')
    .map((source) => {
      const indent = ' '.repeat(/^ */.exec(source)![0].length + 2);
      const lines: string[] = [];
      let line = '';
      let end = 0;
      for (const match of source.matchAll(UNITS)) {
        const gap = source.slice(end, match.index);
        end = match.index + match[0].length;
        if (line === '' || gap === '' || (line + gap + match[0]).length <= width) line += gap + match[0]; // '' : what closes a command
        else {
          lines.push(line);
          line = indent + match[0];
        }
      }
      lines.push(line + source.slice(end));
      return lines.join('\n');
    })
    .join('\n');
}
