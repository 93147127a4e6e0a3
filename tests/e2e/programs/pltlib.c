/* pltlib.c - the shared library of plt.c: one tiny function */
int tiny(int x)
{
	return x + 1;
}
