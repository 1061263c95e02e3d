/** The jobs panel's icon: three bars of different progress. */
import { LabIcon } from '@jupyterlab/ui-components';

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">
  <g class="jp-icon3" fill="#616161">
    <rect x="1" y="2" width="14" height="3" rx="1" opacity="0.35"/>
    <rect x="1" y="2" width="10" height="3" rx="1"/>
    <rect x="1" y="6.5" width="14" height="3" rx="1" opacity="0.35"/>
    <rect x="1" y="6.5" width="5" height="3" rx="1"/>
    <rect x="1" y="11" width="14" height="3" rx="1"/>
  </g>
</svg>`;

export const jobsIcon = new LabIcon({ name: 'kernel-ext:jobs', svgstr: SVG });
