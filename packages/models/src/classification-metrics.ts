import type { ClassificationEvaluation } from '@trainyard/core';

/** A confusion matrix: rows are true labels, columns predicted labels. */
export function confusionMatrix(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  numClasses: number,
): number[][] {
  if (labels.length !== predictions.length) {
    throw new RangeError(`${labels.length} labels but ${predictions.length} predictions`);
  }
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]!]![predictions[i]!]!++;
  return m;
}

/**
 * Accuracy, per-class and macro precision/recall/F1 from a confusion matrix. A class that is
 * never predicted has precision 0; a class absent from the labels has recall 0 and is left
 * out of the macro averages (it has no support).
 */
export function classificationReport(
  confusion: number[][],
  loss: number,
): Omit<ClassificationEvaluation, 'confusion'> & { confusion: number[][] } {
  const k = confusion.length;
  let total = 0;
  let correct = 0;
  const perClass: ClassificationEvaluation['perClass'] = [];
  for (let c = 0; c < k; c++) {
    const row = confusion[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += confusion[r]![c]!;
    const tp = row[c]!;
    total += support;
    correct += tp;
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass.push({ label: c, precision, recall, f1, support });
  }
  const present = perClass.filter((p) => p.support > 0);
  const mean = (f: (p: (typeof perClass)[number]) => number) =>
    present.length === 0 ? 0 : present.reduce((a, p) => a + f(p), 0) / present.length;
  return {
    samples: total,
    loss,
    accuracy: total === 0 ? 0 : correct / total,
    precisionMacro: mean((p) => p.precision),
    recallMacro: mean((p) => p.recall),
    f1Macro: mean((p) => p.f1),
    perClass,
    confusion,
  };
}
