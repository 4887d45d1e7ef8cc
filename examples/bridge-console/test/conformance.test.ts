import { bridgeConformance } from '@pocketping/conformance';
import { ConsoleBridge } from '../src/index.js';
import { type FakeTerminal, fakeTerminal } from './fake-terminal.js';

bridgeConformance({
  name: 'ConsoleBridge',
  fake: () => fakeTerminal(),
  create: (fake) => {
    const terminal = fake as FakeTerminal;
    return new ConsoleBridge({ input: terminal.input, output: terminal.output });
  },
  // Printed lines cannot change: edits and deletes are printed as notices (tested separately).
  supports: { edit: false, delete: false },
});
