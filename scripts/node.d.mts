export type NodePin = 'image' | 'devFloor' | 'floor';
export declare const NODES: Readonly<Record<NodePin, { readonly version: string; readonly integrity: string }>>;
export declare function nodePath(which: NodePin): string;
export declare function ensureNode(which: NodePin): string;
