import type { ComponentName } from '../../config/schema.js';
import { OsbError } from '../../util/errors.js';
import type { GlobalOptions } from '../options.js';

const notYet = () => new OsbError('the kubernetes target is not available in this build', 'use the local target (the default)');

export async function kubernetesDeploy(_c: ComponentName[], _o: GlobalOptions): Promise<number> { throw notYet(); }
export async function kubernetesStatus(_c: ComponentName[], _o: GlobalOptions): Promise<number> { throw notYet(); }
export async function kubernetesTest(_c: ComponentName[], _o: GlobalOptions): Promise<number> { throw notYet(); }
export async function kubernetesEndpoints(_o: GlobalOptions): Promise<number> { throw notYet(); }
export async function kubernetesDestroy(_c: ComponentName[], _o: GlobalOptions): Promise<number> { throw notYet(); }
