/** What a store step returns instead of throwing when the guard absorbed its fault (fail-open). */
export const FAILED: unique symbol = Symbol('store-failed');
export type Guarded<T> = T | typeof FAILED;
