// Variables payments reads besides the runtime's base ones (README: Configuration).
// Its own settings arrive with its issue; the shape is here so they have a home.
export const paymentsConfigShape = {};
