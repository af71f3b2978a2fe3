import { useMemo } from 'react';
import {
  Chart as ChartJS, BarElement, CategoryScale, Legend, LinearScale, LineElement, PointElement, Tooltip, Filler,
  type ChartOptions,
} from 'chart.js';
import { Bar, Line } from 'react-chartjs-2';
import { bytes } from '../format';
import type { RoundMetrics } from '../types';

ChartJS.register(BarElement, CategoryScale, Legend, LinearScale, LineElement, PointElement, Tooltip, Filler);
ChartJS.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
ChartJS.defaults.color = '#5b6475';

export type XAxis = 'round' | 'wall';

export const COLORS = {
  device: '#14a38b',
  edge: '#e8912d',
  cloud: '#4c6ef5',
  other: '#b7bfcc',
  train: '#4c6ef5',
  test: '#e8590c',
};

const MAX_POINTS = 2000;
const BAR_ROUNDS = 60;

/** Every k-th round when there are too many to draw, always keeping the evaluated ones and the last. */
function thin(ms: RoundMetrics[]): RoundMetrics[] {
  if (ms.length <= MAX_POINTS) return ms;
  const k = Math.ceil(ms.length / MAX_POINTS);
  return ms.filter((m, i) => i % k === 0 || m.testAccuracy !== null || i === ms.length - 1);
}

function lineOptions(xAxis: XAxis, yTitle: string, percent: boolean): ChartOptions<'line'> {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false,
    normalized: true,
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    plugins: {
      legend: { position: 'bottom', labels: { boxWidth: 12 } },
      tooltip: {
        callbacks: {
          label: (c) => `${c.dataset.label}: ${percent ? `${(Number(c.parsed.y) * 100).toFixed(2)}%` : Number(c.parsed.y).toFixed(4)}`,
        },
      },
    },
    scales: {
      x: { type: 'linear', title: { display: true, text: xAxis === 'round' ? 'round' : 'wall time (s)' }, ticks: { maxTicksLimit: 8 } },
      y: {
        title: { display: true, text: yTitle },
        ...(percent ? { min: 0, max: 1, ticks: { callback: (v) => `${Math.round(Number(v) * 100)}%` } } : { beginAtZero: true }),
      },
    },
  };
}

/** Loss and accuracy (train and test) against round or wall time. */
export function TrainingCharts({ metrics, startedAt, xAxis }: { metrics: RoundMetrics[]; startedAt: number | null; xAxis: XAxis }) {
  const { loss, acc } = useMemo(() => {
    const ms = thin(metrics);
    const t0 = startedAt ?? (ms[0] ? ms[0].endedAt - ms[0].roundMs : 0);
    const x = (m: RoundMetrics) => (xAxis === 'round' ? m.round + 1 : Math.max(0, (m.endedAt - t0) / 1000));
    const tested = ms.filter((m) => m.testAccuracy !== null);
    const line = (label: string, color: string, data: { x: number; y: number }[], dashed = false, points = false) => ({
      label, data, borderColor: color, backgroundColor: color, borderWidth: 1.6, pointRadius: points ? 2.5 : 0, tension: 0.2,
      borderDash: dashed ? [5, 4] : undefined, spanGaps: true,
    });
    return {
      loss: {
        datasets: [
          line('train loss', COLORS.train, ms.map((m) => ({ x: x(m), y: m.loss }))),
          line('test loss', COLORS.test, tested.filter((m) => m.testLoss !== null).map((m) => ({ x: x(m), y: m.testLoss! })), false, true),
        ],
      },
      acc: {
        datasets: [
          line('train accuracy', COLORS.train, ms.map((m) => ({ x: x(m), y: m.trainAccuracy }))),
          line('test accuracy', COLORS.test, tested.map((m) => ({ x: x(m), y: m.testAccuracy! })), false, true),
        ],
      },
    };
  }, [metrics, startedAt, xAxis]);
  if (!metrics.length) return <p className="muted">No rounds yet.</p>;
  return (
    <div className="grid two charts">
      <div className="chart" data-testid="chart-loss"><Line data={loss} options={lineOptions(xAxis, 'loss', false)} /></div>
      <div className="chart" data-testid="chart-accuracy"><Line data={acc} options={lineOptions(xAxis, 'accuracy', true)} /></div>
    </div>
  );
}

function barOptions(yTitle: string, fmt: (v: number) => string): ChartOptions<'bar'> {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: {
      legend: { position: 'bottom', labels: { boxWidth: 12 } },
      tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmt(Number(c.parsed.y))}` } },
    },
    scales: {
      x: { stacked: true, title: { display: true, text: 'round' }, ticks: { maxTicksLimit: 12 } },
      y: { stacked: true, beginAtZero: true, title: { display: true, text: yTitle }, ticks: { callback: (v) => fmt(Number(v)) } },
    },
  };
}

/** Stacked bars: each tier's compute and the rest (transfer and waiting) of every recent round. */
export function TierTimeChart({ metrics }: { metrics: RoundMetrics[] }) {
  const data = useMemo(() => {
    const ms = metrics.slice(-BAR_ROUNDS);
    const rest = (m: RoundMetrics) => Math.max(0, m.roundMs - m.deviceComputeMs - m.edgeComputeMs - m.cloudComputeMs);
    const ds = (label: string, color: string, f: (m: RoundMetrics) => number) => ({ label, data: ms.map(f), backgroundColor: color, borderWidth: 0 });
    return {
      labels: ms.map((m) => String(m.round + 1)),
      datasets: [
        ds('device compute', COLORS.device, (m) => m.deviceComputeMs),
        ds('edge compute', COLORS.edge, (m) => m.edgeComputeMs),
        ds('cloud compute', COLORS.cloud, (m) => m.cloudComputeMs),
        ds('transfer & waiting', COLORS.other, rest),
      ],
    };
  }, [metrics]);
  if (!metrics.length) return <p className="muted">No rounds yet.</p>;
  return <div className="chart" data-testid="chart-tier-time"><Bar data={data} options={barOptions('ms', (v) => `${v.toFixed(0)} ms`)} /></div>;
}

/** Stacked bars: bytes carried on each link in every recent round. */
export function LinkBytesChart({ metrics }: { metrics: RoundMetrics[] }) {
  const data = useMemo(() => {
    const ms = metrics.slice(-BAR_ROUNDS);
    const ds = (label: string, color: string, f: (m: RoundMetrics) => number) => ({ label, data: ms.map(f), backgroundColor: color, borderWidth: 0 });
    return {
      labels: ms.map((m) => String(m.round + 1)),
      datasets: [
        ds('device → edge', COLORS.device, (m) => m.bytesDeviceEdgeUp),
        ds('edge → cloud', COLORS.cloud, (m) => m.bytesEdgeCloudUp),
        ds('cloud → edge', '#91a7ff', (m) => m.bytesCloudEdgeDown),
        ds('edge → device', '#7fd6c6', (m) => m.bytesEdgeDeviceDown),
      ],
    };
  }, [metrics]);
  if (!metrics.length) return <p className="muted">No rounds yet.</p>;
  return <div className="chart" data-testid="chart-link-bytes"><Bar data={data} options={barOptions('bytes', (v) => bytes(v))} /></div>;
}
