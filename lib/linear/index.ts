/** Linear attention: elu / relu / FAVOR+ feature maps, causal and not, a recurrent state, and the backward. */
export { linearAttention, linearAttentionBackward, LinearAttentionState, type LinearAttentionOptions } from './linear-attention.js';
export { favorFeatures, FavorFeatures, type FavorOptions } from './favor.js';
