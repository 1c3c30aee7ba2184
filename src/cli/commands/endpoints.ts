import { type GlobalOptions, outputFormat } from '../options.js';
import { emit, openTarget } from './target.js';

export interface EndpointsOptions extends GlobalOptions {
  service?: string;
  format?: 'oslo' | 'json' | 'env';
}

export async function endpointsCommand(o: EndpointsOptions): Promise<number> {
  const target = await openTarget(o);
  return emit(await target.endpoints({ service: o.service, format: o.format, json: outputFormat(o) !== 'table', quiet: o.quiet }), o);
}
