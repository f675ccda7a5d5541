import { GpSampler } from '../../../src/samplers/gp/gp-sampler.js';
import { runSamplerContract } from '../contract.js';

// The shared sampler contract, with few startup trials so that the GP phase is exercised.
runSamplerContract('gp', (seed) => new GpSampler({ seed, backend: 'js', nStartupTrials: 5, candidates: 256, restarts: 3 }), {
  nTrials: 15,
});
