/** Pieces of the small pipelines the end-to-end tests build. */

/** A `download` stage of synth data (the procedural dataset: no download, seconds to make). */
export function synthStage(synth: string, name = 'data'): string {
  return `  ${name}:\n    uses: download\n    with: { dataset: synth, synth: { ${synth} } }\n`;
}
