import { readPodFile } from '../../k8s/pod-files.js';

/** The programs RabbitMQ's Jobs and test pod run, as files in src/components/rabbitmq/pod/ (copied to dist/ by the build). */
export const RABBITMQ_POD_PROGRAMS = ['management-api.mjs', 'rabbit-init.mjs', 'rabbitmq-test.mjs'] as const;
export type RabbitmqPodProgram = (typeof RABBITMQ_POD_PROGRAMS)[number];

/** A pod program's text, byte for byte as on disk (see readPodFile). */
export function rabbitmqPodProgram(name: RabbitmqPodProgram): string {
  return readPodFile(new URL(`../../components/rabbitmq/pod/${name}`, import.meta.url));
}

/** The `rabbitmq-programs` ConfigMap's data: every program, keyed by file name. */
export const rabbitmqPodPrograms = (): Record<string, string> => Object.fromEntries(RABBITMQ_POD_PROGRAMS.map((n) => [n, rabbitmqPodProgram(n)]));
