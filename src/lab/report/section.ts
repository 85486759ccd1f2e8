/** What a section of the report is: its plots, tables and notes, and how one is made. */
import type { TopLevelSpec } from 'vega-lite';
import type { Table } from './table.js';
import type { Context } from './context.js';

export interface PlotFigure {
  /** Unique in the page: the anchor and the prefix of the SVG's ids. */
  id: string;
  spec: TopLevelSpec;
  caption: string;
}

export interface TableFigure {
  caption: string;
  table: Table;
  /** Long reference tables start folded on the page (a <details> element; no script). */
  folded?: boolean;
}

export interface Section {
  id: string;
  title: string;
  /** How to read the section's plots and tables. */
  read: string;
  plots: PlotFigure[];
  tables: TableFigure[];
  notes: string[];
  /** Set when nothing can be shown: what the section would need. */
  missing?: string;
}

export interface Study {
  findings: string[];
  sections: Section[];
}

/** Colours of the rasters (a Vega scheme, also the legend's). */

/** One section of the page: what it is, how to read it, and how it is filled from the data. */
export interface SectionSpec {
  id: string;
  title: string;
  read: string | ((ctx: Context) => string);
  /** Adds the section's plots, tables and notes; returns what it would need when it can show nothing. */
  build(ctx: Context, s: Section): string | undefined;
}
