// The older framework majors are installed under aliases for the shared HTTP spec. They are typed
// with the current major's types: the spec uses only the API both majors share.

declare module 'express4' {
  import express from 'express';
  export = express;
}

declare module 'koa2' {
  import Koa from 'koa';
  export = Koa;
}
