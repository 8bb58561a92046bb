/** Nest 12's modules and `@versioned-cache/nestjs` resolving them; typed by the caller. */
export declare function loadNest12(): Promise<{ version: string } & Record<string, unknown>>;
