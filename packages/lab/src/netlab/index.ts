export { NetLab, type NetLabHostSpec, type NetLabOptions, type NetLabSpawnOptions, type NetLabSupport, type SweepReport } from './netlab.js';
export { detectCpuCgroup, type CpuCgroupMount } from './cgroup.js';
