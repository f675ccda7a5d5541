import { GpSampler } from '../../../src/samplers/gp/gp-sampler.js';
import { runSamplerContract } from '../contract.js';

// The shared sampler contract, with few startup trials so that the GP phase (7 of 15 trials) is
// exercised. The range check ("reaches both outer quarters, all 3 choices") rests on the Sobol
// startup: after it the GP exploits by design (the worst observation as its prior mean), and the
// contract's objective ignores the categorical dim. With 5 startup trials instead of 8 it missed
// a quarter or a choice on 4 of 20 seeds (1 of 20 with priorMean: 'mean'), with 8 on none.
runSamplerContract('gp', (seed) => new GpSampler({ seed, backend: 'js', nStartupTrials: 8, candidates: 256, restarts: 3 }), {
  nTrials: 15,
});
