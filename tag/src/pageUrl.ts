/** This page's URL without its fragment (OAuth tokens and the like never leave the page). */
export const pageUrl = (): string => location.href.split('#')[0]!;
