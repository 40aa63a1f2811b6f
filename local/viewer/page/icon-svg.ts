/** The viewer's icon, `GET /viewer/icon.svg`: a bar of a timeline. */
export const iconSvg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2456c7"/><rect x="3" y="4" width="6" height="3" rx="1" fill="#fff"/><rect x="6" y="9" width="7" height="3" rx="1" fill="#9fd4ae"/></svg>
`;
