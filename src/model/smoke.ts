/** One step of a component's `osb test`; printed by name, fails by throwing. */
export interface SmokeStep {
  name: string;
  run: () => Promise<unknown>;
}
