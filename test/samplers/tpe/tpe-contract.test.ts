import { TpeSampler } from '../../../src/samplers/tpe/tpe-sampler.js';
import { runSamplerContract } from '../contract.js';

// The shared sampler contract for each mode, with few startup trials so that TPE itself is exercised.
runSamplerContract('tpe', (seed) => new TpeSampler({ seed, nStartupTrials: 5 }));
runSamplerContract('tpe (multivariate)', (seed) => new TpeSampler({ seed, nStartupTrials: 5, multivariate: true }));
runSamplerContract(
  'tpe (multivariate, group, constant liar)',
  (seed) => new TpeSampler({ seed, nStartupTrials: 5, multivariate: true, group: true, constantLiar: true }),
);
runSamplerContract('tpe (constant liar)', (seed) => new TpeSampler({ seed, nStartupTrials: 5, constantLiar: true }));
