export * from './trust-score';
export * from './trust-tiers';
export * from './trust-signals';
