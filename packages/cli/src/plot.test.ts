import { lineChartSvg, niceTicks } from './plot';

describe('niceTicks', () => {
  it('gives round steps covering the range', () => {
    expect(niceTicks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(2.31, 2.79)).toEqual([2.4, 2.5, 2.6, 2.7]);
  });
});

describe('lineChartSvg', () => {
  it('draws one polyline per series with one point per value, skipping non-finite ones', () => {
    const svg = lineChartSvg([{ name: 'train', values: [3, 2, 1] }, { name: 'val', values: [3, NaN, 2] }], { title: 'T', xLabel: 'epoch', yLabel: 'bits' });
    const polys = [...svg.matchAll(/points="([^"]*)"/g)].map((m) => m[1].split(' ').length);
    expect(polys).toEqual([3, 2]);
    expect(svg).toContain('>train<');
    expect(svg).toContain('>val<');
  });
});
