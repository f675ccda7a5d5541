import type { BuildOptions, FitOptions, FittedGp, GpTrainingData, KernelKind, OptimizeAcquisitionOptions, SurrogateBackend } from '../../../src/surrogate/backend.js';
import { createJsBackend } from '../../../src/surrogate/js-backend.js';

/** The JS backend, recording what every fit, build and append was given. */
export class CountingBackend implements SurrogateBackend {
  readonly name = 'js' as const;
  private readonly inner = createJsBackend();
  readonly fitSizes: number[] = [];
  readonly fitOptions: FitOptions[] = [];
  /** The targets of every fit, and of every append (to any model), in call order. */
  readonly fitTargets: Float64Array[] = [];
  readonly appendTargets: Float64Array[] = [];
  /** Size and theta of every build (the full model rebuilt at a subset fit's theta). */
  readonly builds: { n: number; theta: Float64Array }[] = [];

  /** 'fit', 'build', 'hessian' and 'acquisition' (optimizeAcquisition of any model), in call order. */
  readonly events: string[] = [];
  /** The options of every optimizeAcquisition, in call order. */
  readonly acquisitionOptions: OptimizeAcquisitionOptions[] = [];

  fit(data: GpTrainingData, options: FitOptions): Promise<FittedGp> {
    this.fitSizes.push(data.n);
    this.fitOptions.push(options);
    this.fitTargets.push(Float64Array.from(data.y));
    this.events.push('fit');
    return this.inner.fit(data, options).then((m) => this.logged(m));
  }

  /** The model, recording its (and its appended models') acquisition maximizations. */
  private logged(model: FittedGp): FittedGp {
    return new Proxy(model, {
      get: (target, key) => {
        const value = Reflect.get(target, key) as unknown;
        if (key === 'optimizeAcquisition') {
          return (...args: Parameters<FittedGp['optimizeAcquisition']>) => {
            this.events.push('acquisition');
            this.acquisitionOptions.push(args[0]);
            return target.optimizeAcquisition(...args);
          };
        }
        if (key === 'append') {
          return (...args: Parameters<FittedGp['append']>) => {
            this.appendTargets.push(Float64Array.from(args[1]));
            return target.append(...args).then((m) => this.logged(m));
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** Builds (1-based, in call order) that reject instead. */
  failBuilds = new Set<number>();

  build(data: GpTrainingData, theta: Float64Array, options: BuildOptions): Promise<FittedGp> {
    this.builds.push({ n: data.n, theta: Float64Array.from(theta) });
    this.events.push('build');
    if (this.failBuilds.has(this.builds.length)) return Promise.reject(new Error('injected build failure'));
    return this.inner.build(data, theta, options).then((m) => this.logged(m));
  }

  negLogPosterior(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean) {
    return this.inner.negLogPosterior(data, theta, kernel, deterministic);
  }

  /** Size, theta and targets of every negLogPosteriorHessian call. */
  readonly hessians: { n: number; theta: Float64Array; y: Float64Array }[] = [];
  /** Hessian calls (1-based, in call order) that reject with this error instead. */
  failHessians = new Map<number, Error>();

  negLogPosteriorHessian(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean): Promise<Float64Array> {
    this.hessians.push({ n: data.n, theta: Float64Array.from(theta), y: Float64Array.from(data.y) });
    this.events.push('hessian');
    const failure = this.failHessians.get(this.hessians.length);
    if (failure !== undefined) return Promise.reject(failure);
    if (this.inner.negLogPosteriorHessian === undefined) return Promise.reject(new Error('the JS backend has no negLogPosteriorHessian'));
    return this.inner.negLogPosteriorHessian(data, theta, kernel, deterministic);
  }
}
