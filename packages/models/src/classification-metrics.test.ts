import { describe, expect, it } from 'vitest';
import { classificationReport, confusionMatrix } from './classification-metrics.js';

describe('classification metrics', () => {
  it('computes accuracy and macro precision/recall/F1 as scikit-learn does', () => {
    // y_true = [0,0,1,1,2,2], y_pred = [0,1,1,1,2,0]
    // sklearn: accuracy 0.6667; precision per class [0.5, 0.6667, 1.0]; recall [0.5, 1.0, 0.5]
    const m = confusionMatrix([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], 3);
    expect(m).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    const r = classificationReport(m, 0.5);
    expect(r.accuracy).toBeCloseTo(4 / 6, 10);
    expect(r.precisionMacro).toBeCloseTo((0.5 + 2 / 3 + 1) / 3, 10);
    expect(r.recallMacro).toBeCloseTo((0.5 + 1 + 0.5) / 3, 10);
    const f1 = [0.5, 0.8, 2 / 3];
    expect(r.f1Macro).toBeCloseTo(f1.reduce((a, b) => a + b) / 3, 10);
    expect(r.perClass[1]!.support).toBe(2);
  });

  it('gives precision 0 to a class never predicted and leaves absent classes out of the macro mean', () => {
    const r = classificationReport(confusionMatrix([0, 1], [0, 0], 3), 0);
    expect(r.perClass[1]!.precision).toBe(0);
    expect(r.recallMacro).toBeCloseTo(0.5, 10);
  });
});
